"""Fixtures of the optimizer tests: a plugin host holding only the tiny test plugin."""

from __future__ import annotations

import pytest
from tiny_pipeline_plugin import TinyFactory, TinyPipelinePlugin

from autodeploy.plugin import PluginControls, PluginHost


@pytest.fixture
def host() -> PluginHost:
    """A host with only the test plugin (installed plugins are not loaded)."""
    plugin_host = PluginHost(PluginControls(autoload=False))
    record = plugin_host.register(TinyPipelinePlugin(), name="tiny-test-plugin")
    assert record.is_usable, record.error
    return plugin_host


@pytest.fixture
def factory() -> TinyFactory:
    return TinyFactory(model=None)
