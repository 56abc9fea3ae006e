"""The user's controls over plugin loading: environment variables and CLI blocks."""

from __future__ import annotations

import sys

import pytest

from autodeploy import PluginControls, PluginError, PluginHost, PluginStatus, UnknownTransformError


def test_defaults_when_no_variable_is_set():
    assert PluginControls.from_env({}) == PluginControls(autoload=True, allow=None, block=frozenset(), strict=False)


def test_each_variable_is_read():
    controls = PluginControls.from_env(
        {
            "AUTODEPLOY_DISABLE_PLUGIN_AUTOLOAD": "1",
            "AUTODEPLOY_PLUGINS": " a, b ,,",
            "AUTODEPLOY_BLOCK_PLUGINS": "c",
            "AUTODEPLOY_STRICT_PLUGINS": "true",
        },
        block=["d"],
    )
    assert controls == PluginControls(
        autoload=False, allow=frozenset({"a", "b"}), block=frozenset({"c", "d"}), strict=True
    )


@pytest.mark.parametrize("value", ["0", "", "no", "false"])
def test_false_words_keep_autoload_on_and_strict_off(value):
    controls = PluginControls.from_env(
        {"AUTODEPLOY_DISABLE_PLUGIN_AUTOLOAD": value, "AUTODEPLOY_STRICT_PLUGINS": value}
    )
    assert controls.autoload is True
    assert controls.strict is False


def test_strict_argument_overrides_the_environment():
    assert PluginControls.from_env({"AUTODEPLOY_STRICT_PLUGINS": "1"}, strict=False).strict is False
    assert PluginControls.from_env({}, strict=True).strict is True


def test_empty_allowlist_variable_means_no_allowlist():
    assert PluginControls.from_env({"AUTODEPLOY_PLUGINS": " , "}).allow is None


def test_refusal_matches_entry_point_or_normalised_distribution_name():
    controls = PluginControls(block=frozenset({"My_Plugin.Dist"}))
    assert controls.refusal("anything", "my-plugin-dist") is not None
    assert controls.refusal("my_plugin_dist", None) is not None
    assert controls.refusal("other", "other-dist") is None
    allowing = PluginControls(allow=frozenset({"wanted"}))
    assert allowing.refusal("wanted", "some-dist") is None
    assert "not in the allow list" in allowing.refusal("unwanted", "some-dist")
    # a block wins over an allow
    both = PluginControls(allow=frozenset({"x"}), block=frozenset({"x"}))
    assert both.refusal("x", None).startswith("blocked by 'x'")


@pytest.mark.usefixtures("plugin_dists_on_path")
def test_autoload_off_imports_no_plugin_but_lists_them_as_disabled(installed_test_plugins):
    host = PluginHost.from_environment(environ={"AUTODEPLOY_DISABLE_PLUGIN_AUTOLOAD": "1"})
    ours = [record for record in host.plugins if record.distribution in installed_test_plugins.distributions]
    assert len(ours) == 10
    assert {record.status for record in ours} == {PluginStatus.DISABLED}
    assert all("AUTODEPLOY_DISABLE_PLUGIN_AUTOLOAD=1" in record.error for record in ours)
    assert not [name for name in sys.modules if name.startswith("autodeploy_testplugin_")]
    assert host.transforms() == {}
    assert host.problems() == []
    with pytest.raises(
        PluginError, match="would come from plugin 'hello' .*which is not loaded: plugin autoload is off"
    ):
        host.transform_class("hello")
    with pytest.raises(UnknownTransformError):
        host.transform_class("not_provided_by_anything")


@pytest.mark.usefixtures("plugin_dists_on_path")
def test_a_plain_host_loads_nothing_until_asked(installed_test_plugins):
    host = PluginHost(PluginControls(allow=frozenset(installed_test_plugins.distributions)))
    assert host.plugins == []
    assert "autodeploy_testplugin_good" not in sys.modules
    host.load_entry_points()
    assert "hello" in host.transforms()
