"""Fixtures of the docs tests: the tutorial's example plugin, installed for real."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from autodeploy_test_support import environment_without_autodeploy_vars

EXAMPLE_PACKAGE = "autodeploy_hello"


@pytest.fixture
def hello_example_on_path(hello_example_site: Path) -> Iterator[Path]:
    """The installed example plugin importable and discoverable in this process, for this test only."""
    entry = str(hello_example_site)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    try:
        yield hello_example_site
    finally:
        while entry in sys.path:
            sys.path.remove(entry)
        for name in [name for name in sys.modules if name == EXAMPLE_PACKAGE or name.startswith(f"{EXAMPLE_PACKAGE}.")]:
            del sys.modules[name]
        importlib.invalidate_caches()


@pytest.fixture
def hello_example_env(hello_example_site: Path) -> dict[str, str]:
    """The environment for a subprocess that sees the installed example plugin."""
    env = environment_without_autodeploy_vars()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hello_example_site), os.environ.get("PYTHONPATH")]))
    return env
