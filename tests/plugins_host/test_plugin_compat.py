"""Core-version compatibility read from real installed distributions' metadata."""

from __future__ import annotations

import importlib.metadata

import pytest

from autodeploy import __version__
from autodeploy.plugin.compat import core_incompatibility, core_requirements

pytestmark = pytest.mark.usefixtures("plugin_dists_on_path")


def test_requirements_behind_an_extra_or_a_false_marker_are_ignored():
    good = importlib.metadata.distribution("autodeploy-testplugin-good")
    assert any("extra ==" in line for line in good.requires)  # the metadata does carry them
    (requirement,) = core_requirements(good)
    assert str(requirement.specifier) == "<0.2,>=0.1"
    assert core_incompatibility(good) is None


def test_a_core_outside_the_range_is_named_with_the_range():
    good = importlib.metadata.distribution("autodeploy-testplugin-good")
    assert (
        core_incompatibility(good, "0.2.0")
        == "requires autodeploy-core<0.2,>=0.1, but autodeploy-core 0.2.0 is running"
    )
    assert core_incompatibility(good, "0.1.5rc1") is None


def test_incompatible_distribution_is_refused_for_the_running_core():
    incompatible = importlib.metadata.distribution("autodeploy-testplugin-incompatible")
    assert (
        core_incompatibility(incompatible)
        == f"requires autodeploy-core>=99, but autodeploy-core {__version__} is running"
    )


def test_distribution_without_a_core_requirement_is_compatible():
    assert core_requirements(importlib.metadata.distribution("pluggy")) == []
    assert core_incompatibility(importlib.metadata.distribution("pluggy"), "0.0.1") is None
