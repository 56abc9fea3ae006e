"""Support shared by the repository's tests: installing distributions for real, and environments
for ``python -m autodeploy`` subprocesses.

(A uniquely named module on the tests' import path; fixtures are in the conftest.py files.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterable, Mapping
from pathlib import Path

BUILD_LEFTOVERS = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")


def environment_without_autodeploy_vars(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) without any ``AUTODEPLOY_*`` variable, so a
    subprocess sees the defaults whatever the developer's shell has set."""
    return {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.startswith("AUTODEPLOY_")
    }


def copy_distribution(source: Path, destination: Path) -> Path:
    """A copy of the distribution folder `source` (builds write build/ and *.egg-info next to the
    sources: they must not land in the repository)."""
    shutil.copytree(source, destination, ignore=BUILD_LEFTOVERS)
    return destination


def pip_install(
    sources: Iterable[Path], *, target: Path | None = None, editable: bool = False, python: str = sys.executable
) -> None:
    """``pip install`` the folders `sources` offline, without dependencies or build isolation:
    into the directory `target` when given, else into `python`'s environment; ``-e`` if `editable`."""
    command = [
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
        "--no-deps", "--no-build-isolation",
    ]  # fmt: skip
    if target is not None:
        command += ["--target", str(target)]
    for source in sources:
        command += ["-e", str(source)] if editable else [str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"pip install failed:\n{result.stdout}\n{result.stderr}")


def fresh_environment(folder: Path) -> Path:
    """A new virtual environment that also sees this interpreter's packages (torch, autodeploy,
    pytest, pip, setuptools), so nothing is downloaded or reinstalled; returns its python.

    A venv made from a venv's python only sees the base interpreter's packages (even with
    --system-site-packages), so this interpreter's site directories are added by a .pth file.
    """
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site_dirs = [entry for entry in sys.path if entry.endswith(("site-packages", "dist-packages"))]
    (Path(purelib) / "_parent_environment.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({entry!r})" for entry in site_dirs) + "\n"
    )
    return python


def install_copies(sources: Iterable[Path], site_dir: Path, work_dir: Path) -> None:
    """Install copies (made in `work_dir`) of the distribution folders `sources` into the directory
    `site_dir`, non-editable: a site directory on no path until a test puts it there."""
    pip_install([copy_distribution(source, work_dir / source.name) for source in sources], target=site_dir)
