"""Fixtures of the testing-kit tests: real installed distributions that break the contract."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def misfit_plugins_on_path(plugin_dists_on_path, kit_dists_site: Path) -> None:
    """The plugin host's test distributions (tests/plugin_dists) and the testing kit's
    (tests/testing_kit/dists) importable and discoverable in this process, for this test only."""
    plugin_dists_on_path.add(kit_dists_site)
