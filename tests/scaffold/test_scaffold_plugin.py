"""``python -m autodeploy new-plugin``: the plugin it makes installs, lists and passes its own tests."""

import subprocess
import sys
from pathlib import Path

import pytest
from autodeploy_test_support import fresh_environment, pip_install

EXPECTED_FILES = {
    "pyproject.toml",
    "README.md",
    "conftest.py",
    "src/autodeploy_fuse_things/__init__.py",
    "src/autodeploy_fuse_things/plugin.py",
    "src/autodeploy_fuse_things/transform.py",
    "tests/test_fuse_things_transform.py",
}


def autodeploy(*args, python=sys.executable, cwd=None):
    return subprocess.run([python, "-m", "autodeploy", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_new_plugin_writes_a_distribution_named_after_the_plugin(tmp_path):
    result = autodeploy("new-plugin", "fuse-things", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    target = tmp_path / "autodeploy-plugin-fuse-things"
    assert files_under(target) == EXPECTED_FILES
    pyproject = (target / "pyproject.toml").read_text()
    assert 'name = "autodeploy-plugin-fuse-things"' in pyproject
    assert 'dependencies = ["autodeploy-core>=0.1,<0.2"]' in pyproject
    assert '[project.entry-points."autodeploy.transforms"]\nfuse_things = "autodeploy_fuse_things.plugin"' in pyproject
    transform = (target / "src/autodeploy_fuse_things/transform.py").read_text()
    assert "class FuseThingsConfig(TransformConfig):" in transform and "class FuseThings(BaseTransform):" in transform
    assert "\nimport torch" not in transform and "\nfrom torch" not in transform
    assert f"pip install -e {target}" in result.stdout


def test_new_plugin_defaults_to_the_working_directory_and_never_overwrites(tmp_path):
    assert autodeploy("new-plugin", "fuse_things", cwd=tmp_path).returncode == 0
    target = tmp_path / "autodeploy-plugin-fuse-things"
    (target / "README.md").write_text("my own notes\n")

    again = autodeploy("new-plugin", "fuse_things", cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists and is not empty" in again.stderr and "Traceback" not in again.stderr
    assert (target / "README.md").read_text() == "my own notes\n"


def test_bad_name_is_a_one_line_error(tmp_path):
    result = autodeploy("new-plugin", "9lives", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: plugin name '9lives' is not usable")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_key_an_installed_plugin_provides_is_refused_naming_that_plugin(tmp_path):
    # fuse_gemms comes with the first-party fusions plugin: a second provider would conflict
    result = autodeploy("new-plugin", "fuse_gemms", "--dir", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "transform key 'fuse_gemms' is already provided by autodeploy-plugin-fusions" in result.stderr
    assert "-p no:autodeploy-plugin-fusions" in result.stderr
    assert list(tmp_path.iterdir()) == []
    # with that plugin disabled, the key is free to be replaced
    replacing = autodeploy("-p", "no:autodeploy-plugin-fusions", "new-plugin", "fuse_gemms", "--dir", str(tmp_path))
    assert replacing.returncode == 0, replacing.stderr
    assert (tmp_path / "autodeploy-plugin-fuse-gemms" / "pyproject.toml").is_file()


def test_new_plugin_passes_its_tests_after_pip_install_e(tmp_path):
    assert autodeploy("new-plugin", "fuse_things", "--dir", str(tmp_path)).returncode == 0
    target = tmp_path / "autodeploy-plugin-fuse-things"
    python = fresh_environment(tmp_path / "venv")

    pip_install([target], editable=True, python=str(python))

    listed = autodeploy("list-transforms", python=str(python))
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith("fuse_things "))
    assert row[1:4] == ["visualize", "graph,transformers", "autodeploy-plugin-fuse-things"]

    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
        capture_output=True,
        text=True,
        cwd=target,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
