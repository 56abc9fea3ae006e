"""``pip install -e`` of a plugin (what every plugin author does) is one plugin, with no warning.

An editable install leaves a second copy of the distribution's metadata on the path (older
setuptools and legacy installs write ``src/NAME.egg-info`` next to the sources, on the path through
the editable .pth file), and the environment may hold the same plugin installed elsewhere in the
same version. Copies of one name and version are one plugin; only another version is a problem
(tests/reliability covers that one).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from autodeploy_test_support import (
    copy_distribution,
    environment_without_autodeploy_vars,
    fresh_environment,
    pip_install,
)

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = "autodeploy-plugin-build-model"


@pytest.fixture(scope="module")
def editable_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("editable")
    sources = copy_distribution(ROOT / "plugins" / "build-model", work / "build-model")
    python = str(fresh_environment(work / "venv"))
    pip_install([sources], editable=True, python=python)
    # the egg-info an editable install leaves in src/ (setuptools' egg_info command writes it there)
    subprocess.run(
        [python, "-c", "from setuptools import setup; setup()", "-q", "egg_info"],
        cwd=sources, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert (sources / "src" / "autodeploy_plugin_build_model.egg-info" / "PKG-INFO").is_file()
    return python


def _autodeploy(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = environment_without_autodeploy_vars()
    env["AUTODEPLOY_PLUGINS"] = DISTRIBUTION
    return subprocess.run([python, "-m", "autodeploy", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_list_plugins_shows_one_plugin_and_no_problem(editable_python: str) -> None:
    located = subprocess.run(
        [editable_python, "-c", "from importlib.metadata import distributions as d; "
         f"print(sum(x.metadata['Name'] == {DISTRIBUTION!r} for x in d()))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert int(located.stdout) >= 2  # the copies really are on the path

    result = _autodeploy(editable_python, "list-plugins", "--json")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    listing = json.loads(result.stdout)
    (record,) = [plugin for plugin in listing["plugins"] if plugin["distribution"] == DISTRIBUTION]
    assert (record["status"], record["problems"]) == ("loaded", [])
    assert listing["problems"] == []


@pytest.mark.slow
def test_strict_plugins_passes(editable_python: str) -> None:
    result = _autodeploy(editable_python, "--strict-plugins", "list-transforms")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert any(line.startswith("build_model ") for line in result.stdout.splitlines())
