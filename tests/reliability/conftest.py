"""Fixtures of the reliability suite: its test distributions (pip-installed once, the twice-installed
one in two versions), environments for the command line, and a pristine tiny checkpoint."""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from autodeploy_test_support import install_copies
from reliability_support import (
    DISTS_DIR,
    TWICE_OLD_VERSION,
    clean_env,
    save_tiny_llama,
    with_version,
)

SUITE_PACKAGE_PREFIX = "autodeploy_testplugin_reliability_"


@dataclass(frozen=True)
class ReliabilitySites:
    """Where the suite's distributions are installed: `main` holds all of them, `second` an older
    copy of the twice-installed one (put after `main` on the path, as a stale install would be)."""

    main: Path
    second: Path


@pytest.fixture(scope="session")
def reliability_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReliabilitySites]:
    root = tmp_path_factory.mktemp("reliability_dists")
    sources = sorted(path for path in DISTS_DIR.iterdir() if (path / "pyproject.toml").is_file())
    (root / "work_main").mkdir()
    (root / "work_second").mkdir()
    older_twice = with_version(DISTS_DIR / "twice", root / "work_second", TWICE_OLD_VERSION)
    with ThreadPoolExecutor(max_workers=2) as pool:  # two independent pip runs
        installs = [
            pool.submit(install_copies, sources, root / "main", root / "work_main"),
            pool.submit(install_copies, [older_twice], root / "second", root / "work_second" / "copies"),
        ]
        for install in installs:
            install.result()
    yield ReliabilitySites(main=root / "main", second=root / "second")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def all_plugins_env(installed_test_plugins, reliability_sites: ReliabilitySites) -> dict[str, str]:
    """Every installed plugin, first-party and broken test ones alike, as a user with a messy
    environment would have them."""
    return clean_env(installed_test_plugins.site_dir, reliability_sites.main, reliability_sites.second)


@pytest.fixture(scope="session")
def first_party_env() -> dict[str, str]:
    """The installed first-party plugins only."""
    return clean_env()


@pytest.fixture(scope="session")
def cli_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability_cwd")


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine tiny checkpoint; tests copy it before damaging anything."""
    return save_tiny_llama(tmp_path_factory.mktemp("reliability_ckpt") / "tiny-llama")


@pytest.fixture
def reliability_plugins_on_path(reliability_sites: ReliabilitySites) -> Iterator[Path]:
    """The suite's distributions importable and discoverable in this process, for one test."""
    entry = str(reliability_sites.main)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    try:
        yield reliability_sites.main
    finally:
        while entry in sys.path:
            sys.path.remove(entry)
        for name in [name for name in sys.modules if name.startswith(SUITE_PACKAGE_PREFIX)]:
            del sys.modules[name]
        importlib.invalidate_caches()
