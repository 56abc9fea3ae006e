"""Shared pytest fixtures for the repository's tests.

Each helper's fixtures live in their own clearly marked section below.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from autodeploy_test_support import environment_without_autodeploy_vars, install_copies

# =================================================================================================
# Plugin host: test plugin distributions, pip-installed once per session
# =================================================================================================
#
# tests/plugin_dists/<folder>/ holds small real distributions (good, broken in various ways).
# They are installed, non-editable, into a fresh target directory that is NOT on the interpreter's
# path: a test opts in with `plugin_dists_on_path` (in process) or `installed_test_plugins.env`
# (subprocesses), so no other test ever sees these plugins.

PLUGIN_DISTS_DIR = Path(__file__).parent / "plugin_dists"
TEST_PLUGIN_PACKAGE_PREFIX = "autodeploy_testplugin_"


@dataclass(frozen=True)
class InstalledTestPlugins:
    """Where the test plugin distributions are installed and how to see them.

    `distributions` are the installed distribution names (use them as an ``AUTODEPLOY_PLUGINS``
    allowlist to keep other installed plugins out of a test); `env` is the environment for a
    subprocess: the target directory first on PYTHONPATH and no AUTODEPLOY_* variables.
    """

    site_dir: Path
    distributions: tuple[str, ...]
    env: dict[str, str]

    def only_these(self, **extra: str) -> dict[str, str]:
        """An environ mapping for `PluginHost.from_environment` allowing just the test plugins."""
        return {"AUTODEPLOY_PLUGINS": ",".join(self.distributions), **extra}


@pytest.fixture(scope="session")
def installed_test_plugins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledTestPlugins]:
    """pip-install every distribution of tests/plugin_dists into a fresh directory, once."""
    root = tmp_path_factory.mktemp("test_plugins")
    site_dir = root / "site"
    folders = sorted(path for path in PLUGIN_DISTS_DIR.iterdir() if (path / "pyproject.toml").is_file())
    install_copies(folders, site_dir, root / "src")

    env = environment_without_autodeploy_vars()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site_dir), os.environ.get("PYTHONPATH")]))
    yield InstalledTestPlugins(
        site_dir=site_dir,
        distributions=tuple(
            sorted(dist.metadata["Name"] for dist in importlib.metadata.distributions(path=[str(site_dir)]))
        ),
        env=env,
    )
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class SysPathGuard:
    """Puts directories on `sys.path` for one test and takes them (and what was imported from
    them) away afterwards."""

    added: list[str] = field(default_factory=list)

    def add(self, directory: Path, *, first: bool = True) -> None:
        entry = str(directory)
        if first:
            sys.path.insert(0, entry)
        else:
            sys.path.append(entry)
        self.added.append(entry)
        importlib.invalidate_caches()

    def restore(self) -> None:
        for entry in self.added:
            while entry in sys.path:
                sys.path.remove(entry)
        for name in [name for name in sys.modules if name.startswith(TEST_PLUGIN_PACKAGE_PREFIX)]:
            del sys.modules[name]
        importlib.invalidate_caches()


@pytest.fixture
def plugin_dists_on_path(installed_test_plugins: InstalledTestPlugins) -> Iterator[SysPathGuard]:
    """The test plugins importable and discoverable in this process, for this test only."""
    guard = SysPathGuard()
    guard.add(installed_test_plugins.site_dir)
    try:
        yield guard
    finally:
        guard.restore()


# =================================================================================================
# Docs, testing kit and scaffold: real distributions pip-installed once per session
# =================================================================================================
#
# The tutorial's example plugin (docs/examples/autodeploy-plugin-hello) and the testing kit's
# contract-breaking distributions (tests/testing_kit/dists/) are installed like the test plugins
# above: non-editable, into a target directory on no path until a test puts it there.

EXAMPLE_PLUGIN_DIR = Path(__file__).resolve().parents[1] / "docs" / "examples" / "autodeploy-plugin-hello"
KIT_DISTS_DIR = Path(__file__).parent / "testing_kit" / "dists"


@pytest.fixture(scope="session")
def hello_example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the installed example plugin `autodeploy-plugin-hello`."""
    root = tmp_path_factory.mktemp("hello_example")
    install_copies([EXAMPLE_PLUGIN_DIR], root / "site", root)
    return root / "site"


@pytest.fixture(scope="session")
def kit_dists_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the testing kit's contract-breaking distributions."""
    root = tmp_path_factory.mktemp("kit_dists")
    sources = sorted(path for path in KIT_DISTS_DIR.iterdir() if (path / "pyproject.toml").is_file())
    install_copies(sources, root / "site", root)
    return root / "site"
