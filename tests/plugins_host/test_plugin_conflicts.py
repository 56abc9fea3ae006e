"""Two installed plugins registering the same key: reported naming both, fixed by choosing one."""

from __future__ import annotations

import sys

import pytest

from autodeploy import PluginError, PluginHost, PluginStatus

pytestmark = pytest.mark.usefixtures("plugin_dists_on_path")

DUP_A = "autodeploy-testplugin-dup-a"
DUP_B = "autodeploy-testplugin-dup-b"


def record_named(host: PluginHost, name: str):
    (record,) = [record for record in host.plugins if record.name == name]
    return record


def test_duplicate_transform_key_raises_naming_both_plugins_and_how_to_pick(installed_test_plugins):
    host = PluginHost.from_environment(environ=installed_test_plugins.only_these())
    with pytest.raises(PluginError) as caught:
        host.transform_class("dup_key")
    message = str(caught.value)
    assert f"plugin 'dup_a' ({DUP_A} 0.1.0)" in message
    assert f"plugin 'dup_b' ({DUP_B} 0.2.0)" in message
    assert "-p no:" in message and "AUTODEPLOY_BLOCK_PLUGINS=" in message and "AUTODEPLOY_PLUGINS" in message

    transforms = host.transforms()
    assert "dup_key" not in transforms
    assert transforms["only_a"].plugin.name == "dup_a"
    assert transforms["only_b"].plugin.name == "dup_b"
    conflicts = {(conflict.kind, conflict.key, conflict.mode): conflict for conflict in host.conflicts()}
    providers = conflicts[("transform", "dup_key", None)].providers
    assert [provider.plugin.distribution for provider in providers] == [DUP_A, DUP_B]
    assert [provider.obj.__name__ for provider in providers] == ["DupKeyA", "DupKeyB"]
    assert any(line.startswith("transform 'dup_key' is registered by plugin 'dup_a'") for line in host.problems())


def test_duplicate_factory_name_raises_naming_both_plugins(installed_test_plugins):
    host = PluginHost.from_environment(environ=installed_test_plugins.only_these())
    assert "DupFactory" not in host.factories()
    with pytest.raises(PluginError, match=rf"factory 'DupFactory' is registered by .*{DUP_A} 0\.1\.0.*{DUP_B} 0\.2\.0"):
        host.factory_class("DupFactory")


def test_duplicate_mode_entry_keeps_the_first_plugin_by_name_and_reports_the_other(installed_test_plugins):
    host = PluginHost.from_environment(environ=installed_test_plugins.only_these())
    assert host.mode("graph")["dup_key"]["origin"] == "dup_a"
    (problem,) = record_named(host, "dup_b").problems
    assert "mode 'graph': entry 'dup_key' is also contributed by plugin 'dup_a'" in problem
    assert record_named(host, "dup_a").problems == []
    (conflict,) = [conflict for conflict in host.conflicts() if conflict.mode == "graph"]
    assert conflict.key == "dup_key"
    assert [provider.obj["origin"] for provider in conflict.providers] == ["dup_a", "dup_b"]


@pytest.mark.parametrize(
    ("block", "environ"),
    [
        (("dup_b",), {}),  # CLI: -p no:dup_b (entry-point name)
        ((), {"AUTODEPLOY_BLOCK_PLUGINS": DUP_B}),  # distribution name
        ((), {"AUTODEPLOY_BLOCK_PLUGINS": "Autodeploy_TestPlugin.Dup_B"}),  # any spelling of it
    ],
    ids=["cli-entry-point-name", "env-distribution-name", "env-unnormalised-name"],
)
def test_blocking_one_provider_resolves_the_conflict(installed_test_plugins, block, environ):
    host = PluginHost.from_environment(block=block, environ=installed_test_plugins.only_these(**environ))
    assert host.transform_class("dup_key").__module__ == "autodeploy_testplugin_dup_a.plugin"
    assert host.factory_class("DupFactory").__name__ == "DupFactoryA"
    assert host.mode("graph")["dup_key"]["origin"] == "dup_a"
    assert "only_b" not in host.transforms()
    assert host.conflicts() == []
    blocked = record_named(host, "dup_b")
    assert blocked.status is PluginStatus.BLOCKED
    assert blocked.error.startswith("blocked by ")
    assert "autodeploy_testplugin_dup_b" not in sys.modules
    with pytest.raises(PluginError, match="which is blocked"):
        host.transform_class("dup_b")


def test_allowlist_by_entry_point_name_picks_one_provider(installed_test_plugins):
    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "dup_b, hello"})
    assert host.transform_class("dup_key").__module__ == "autodeploy_testplugin_dup_b.plugin"
    statuses = {record.name: record.status for record in host.plugins}
    assert statuses["dup_a"] is PluginStatus.BLOCKED
    assert statuses["hello"] is PluginStatus.LOADED
    # another entry point of the same distribution is a different plugin for an entry-point name
    assert statuses["hello_factories"] is PluginStatus.BLOCKED
    assert "not in the allow list AUTODEPLOY_PLUGINS=dup_b,hello" in record_named(host, "dup_a").error
    assert "autodeploy_testplugin_dup_a" not in sys.modules
    assert "autodeploy_testplugin_broken_import" not in sys.modules


def test_allowlist_by_distribution_name_takes_all_its_entry_points(installed_test_plugins):
    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-testplugin-good"})
    loaded = {record.name for record in host.plugins if record.status is PluginStatus.LOADED}
    assert loaded == {"hello", "hello_factories"}
    assert set(host.transforms()) == {"hello"}
    assert set(host.factories()) == {"HelloFactory"}
    assert host.problems() == []


def test_allow_or_block_names_matching_no_plugin_are_reported(installed_test_plugins):
    host = PluginHost.from_environment(
        block=("no-such-blocked",), environ={"AUTODEPLOY_PLUGINS": "autodeploy-testplugin-good,no-such-plugin"}
    )
    assert host.problems() == [
        "AUTODEPLOY_PLUGINS names 'no-such-plugin', which matches no installed plugin",
        "the block list names 'no-such-blocked', which matches no installed plugin",
    ]
