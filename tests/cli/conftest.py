"""Fixtures of the command-line tests: `python -m autodeploy` in a subprocess, seeing only test plugins.

The plugins are real installed distributions: `probe_plugin_dist/` (built and pip-installed here
into a fresh directory) and two of the shared test distributions (a working one, one that fails
at import). An allowlist keeps every other installed plugin out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from autodeploy_test_support import install_copies

PROBE_DIST_DIR = Path(__file__).parent / "probe_plugin_dist"
PROBE_DISTRIBUTION = "autodeploy-cli-probe"
SHARED_DISTRIBUTIONS = ("autodeploy-testplugin-good", "autodeploy-testplugin-broken-import")


@pytest.fixture(scope="session")
def cli_probe_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """pip-install the probe plugin into a fresh directory (not on this interpreter's path)."""
    root = tmp_path_factory.mktemp("cli_probe")
    site = root / "site"
    install_copies([PROBE_DIST_DIR], site, root / "src")
    yield site
    shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class CliRunner:
    """Runs ``python -m autodeploy ARGS`` (or a ``-c`` script) with the test plugins' environment."""

    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return self.python("-m", "autodeploy", *args, **extra_env)

    def python(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.env, **extra_env},
            cwd=self.cwd,
        )


@pytest.fixture(scope="session")
def run_cli(installed_test_plugins, cli_probe_site: Path, tmp_path_factory: pytest.TempPathFactory) -> CliRunner:
    env = dict(installed_test_plugins.env)  # no AUTODEPLOY_* variables, shared test plugins on the path
    env["PYTHONPATH"] = os.pathsep.join([str(cli_probe_site), env["PYTHONPATH"]])
    env["AUTODEPLOY_PLUGINS"] = ",".join((PROBE_DISTRIBUTION, *SHARED_DISTRIBUTIONS))
    return CliRunner(env=env, cwd=tmp_path_factory.mktemp("cli_cwd"))
