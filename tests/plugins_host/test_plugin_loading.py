"""Loading real, pip-installed test plugins: each broken kind is recorded, the rest still load."""

from __future__ import annotations

import shutil
import sys

import pytest

from autodeploy import (
    ModelFactory,
    PluginError,
    PluginHost,
    PluginStatus,
    RunReport,
    SharedConfig,
    Stages,
    TransformStatus,
    __version__,
    get_history,
    hookimpl,
)

pytestmark = pytest.mark.usefixtures("plugin_dists_on_path")

# entry-point name -> (distribution, version, status) of every test plugin entry point
EXPECTED = {
    "hello": ("autodeploy-testplugin-good", "1.2.3", PluginStatus.LOADED),
    "hello_factories": ("autodeploy-testplugin-good", "1.2.3", PluginStatus.LOADED),
    "broken_import": ("autodeploy-testplugin-broken-import", "0.3.0", PluginStatus.FAILED),
    "half_registered": ("autodeploy-testplugin-broken-register", "0.4.0", PluginStatus.FAILED),
    "dup_a": ("autodeploy-testplugin-dup-a", "0.1.0", PluginStatus.LOADED),
    "dup_b": ("autodeploy-testplugin-dup-b", "0.2.0", PluginStatus.LOADED),
    "incompatible": ("autodeploy-testplugin-incompatible", "0.5.0", PluginStatus.INCOMPATIBLE),
    "bad_hookimpl": ("autodeploy-testplugin-bad-hookimpl", "0.6.0", PluginStatus.FAILED),
    "misspelt_hook": ("autodeploy-testplugin-bad-hookimpl", "0.6.0", PluginStatus.FAILED),
    "bad_registrations": ("autodeploy-testplugin-bad-registrations", "0.7.0", PluginStatus.LOADED),
}


@pytest.fixture
def host(installed_test_plugins) -> PluginHost:
    return PluginHost.from_environment(environ=installed_test_plugins.only_these())


def record_named(host: PluginHost, name: str):
    matches = [record for record in host.plugins if record.name == name]
    assert len(matches) == 1, [record.name for record in host.plugins]
    return matches[0]


def test_every_test_entry_point_is_recorded_with_distribution_version_and_status(host):
    seen = {
        record.name: (record.distribution, record.version, record.status)
        for record in host.plugins
        if record.distribution and record.distribution.startswith("autodeploy-testplugin-")
    }
    assert seen == EXPECTED
    for record in host.plugins:
        if record.name in EXPECTED:
            assert (record.error is None) == (record.status is PluginStatus.LOADED), record


def test_plugin_failing_at_import_is_recorded_and_the_others_still_load(host):
    record = record_named(host, "broken_import")
    assert record.status is PluginStatus.FAILED
    assert record.error == "ModuleNotFoundError: No module named 'autodeploy_testplugin_missing_dependency'"
    assert record.value == "autodeploy_testplugin_broken_import.plugin"
    assert "hello" in host.transforms()
    with pytest.raises(PluginError, match="autodeploy-testplugin-broken-import 0.3.0.*ModuleNotFoundError"):
        host.transform_class("broken_import")
    assert any(
        line.startswith(
            "plugin 'broken_import' (autodeploy-testplugin-broken-import 0.3.0) failed: ModuleNotFoundError"
        )
        for line in host.problems()
    )


class StageObserver:
    """An in-process plugin that records the stages it is told about."""

    def __init__(self):
        self.stages: list[Stages] = []

    @hookimpl
    def autodeploy_before_stage(self, stage, mod, report):
        self.stages.append(stage)


def test_plugin_raising_in_its_registration_hook_is_failed_and_dropped_entirely(host):
    record = record_named(host, "half_registered")
    assert record.status is PluginStatus.FAILED
    assert record.error == "RuntimeError: registration exploded on purpose (raised in autodeploy_register_transforms)"
    assert record.provides == []
    # what it registered before raising is dropped, and asking for it says why
    assert "half_registered" not in host.transforms()
    with pytest.raises(PluginError, match="autodeploy-testplugin-broken-register 0.4.0.*exploded on purpose"):
        host.transform_class("half_registered")
    # its lifecycle hook is no longer called, while a working plugin's is
    observer = StageObserver()
    host.register(observer, name="observer")
    host.hook.autodeploy_before_stage(stage=Stages.EXPORT, mod=None, report=RunReport())
    assert observer.stages == [Stages.EXPORT]
    assert sys.modules["autodeploy_testplugin_broken_register.plugin"].OBSERVED_STAGES == []


def test_incompatible_core_requirement_is_refused_before_import(host):
    record = record_named(host, "incompatible")
    assert record.status is PluginStatus.INCOMPATIBLE
    assert record.error == f"requires autodeploy-core>=99, but autodeploy-core {__version__} is running"
    assert "autodeploy_testplugin_incompatible.plugin" not in sys.modules  # importing it raises
    with pytest.raises(PluginError, match="incompatible with this core"):
        host.transform_class("incompatible")


def test_hookimpl_with_an_argument_not_in_the_spec_fails_clearly(host):
    record = record_named(host, "bad_hookimpl")
    assert record.status is PluginStatus.FAILED
    assert record.error.startswith("PluginValidationError: ")
    assert "{'registry'}" in record.error
    assert "the hook specification is autodeploy_register_transforms(register)" in record.error
    assert "\n" not in record.error


def test_unknown_hook_name_fails_and_suggests_the_real_hook(host):
    record = record_named(host, "misspelt_hook")
    assert record.status is PluginStatus.FAILED
    assert record.error == (
        "unknown hook 'autodeploy_register_transform' (did you mean 'autodeploy_register_transforms'?)"
    )


def test_invalid_registrations_are_problems_and_the_valid_one_is_kept(host):
    record = record_named(host, "bad_registrations")
    assert record.status is PluginStatus.LOADED
    problems = "\n".join(record.problems)
    assert "transform 'not_a_transform': <object object at" in problems
    assert "not a subclass of autodeploy.BaseTransform" in problems
    assert "transform key 'has spaces' is not a plain YAML key" in problems
    assert "NotATransformConfig, which does not derive autodeploy.TransformConfig" in problems
    assert "factory 'NotAFactory'" in problems and "not a subclass of autodeploy.ModelFactory" in problems
    assert "mode 'graph': the entry of 'broken_entry' is a str, not a mapping" in problems
    assert len(record.problems) == 5

    transforms = host.transforms()
    assert "still_fine" in transforms
    assert transforms["still_fine"].plugin is record
    assert not {"not_a_transform", "has spaces", "wrong_config"} & set(transforms)
    assert record.provides == ["transform still_fine", "mode graph"]
    for key in ("not_a_transform", "has spaces", "wrong_config"):
        with pytest.raises(PluginError, match="autodeploy-testplugin-bad-registrations 0.7.0.*rejected"):
            host.transform_class(key)
    with pytest.raises(PluginError, match="rejected"):
        host.factory_class("NotAFactory")
    graph = host.mode("graph")
    assert graph["still_fine"] == {"stage": "post_export"}
    assert "broken_entry" not in graph
    origin = "plugin 'bad_registrations' (autodeploy-testplugin-bad-registrations 0.7.0): "
    assert sum(line.startswith(origin) for line in host.problems()) == 5


def test_good_plugin_transform_factory_and_modes_are_usable(host):
    torch = pytest.importorskip("torch")
    hello = host.transform_class("hello")
    assert hello.__module__ == "autodeploy_testplugin_good.transform"
    assert host.transform_key_of(hello) == "hello"
    assert host.transforms()["hello"].plugin.distribution == "autodeploy-testplugin-good"

    entry = host.mode("graph")["hello"]
    assert entry == {"stage": "post_export", "run_per_gm": False, "greeting": "hello from graph"}
    transform = hello(hello.get_config_class()(**entry))
    transform.key = host.transform_key_of(hello)  # outside a pipeline, the key comes from the registration
    module = transform(torch.nn.Linear(2, 2), None, None, SharedConfig())
    assert module.greeting == "hello from graph"
    assert get_history(module)[-1].key == "hello"
    assert get_history(module)[-1].status is TransformStatus.APPLIED
    assert host.modes_for("hello") == ["graph", "greetings"]
    assert host.mode("greetings") == {"hello": {"stage": "factory", "run_per_gm": False}}

    factory_class = host.factory_class("HelloFactory")
    assert issubclass(factory_class, ModelFactory)
    factory = factory_class(model=None)
    model = factory.build_model("meta")
    assert model.weight.is_meta
    factory.load_or_random_init(model, "cpu")
    assert torch.equal(model.weight, torch.ones(4, 4))

    assert record_named(host, "hello").provides == ["transform hello", "mode graph", "mode greetings"]
    assert record_named(host, "hello_factories").group == "autodeploy.plugins"
    assert record_named(host, "hello_factories").provides == ["factory HelloFactory"]


def test_mode_entries_returned_are_copies(host):
    host.mode("graph")["hello"]["greeting"] = "changed by a caller"
    host.modes()["greetings"]["hello"]["stage"] = "compile"
    assert host.mode("graph")["hello"]["greeting"] == "hello from graph"
    assert host.mode("greetings")["hello"]["stage"] == "factory"


def test_same_distribution_and_version_twice_on_the_path_is_one_plugin_silently(
    installed_test_plugins, plugin_dists_on_path, tmp_path
):
    second_site = tmp_path / "second_site"
    for name in ("autodeploy_testplugin_good", "autodeploy_testplugin_good-1.2.3.dist-info"):
        shutil.copytree(installed_test_plugins.site_dir / name, second_site / name)
    plugin_dists_on_path.add(second_site, first=False)

    host = PluginHost.from_environment(environ=installed_test_plugins.only_these())
    (hello,) = [record for record in host.plugins if record.name == "hello"]
    assert (hello.status, hello.problems) == (PluginStatus.LOADED, [])
    assert not [problem for problem in host.problems() if "autodeploy-testplugin-good" in problem]
    assert list(host.transforms()["hello"].obj.__module__.split(".")) == ["autodeploy_testplugin_good", "transform"]


def test_same_distribution_in_another_version_on_the_path_loads_once_and_warns_once_naming_both(
    installed_test_plugins, plugin_dists_on_path, tmp_path
):
    second_site = tmp_path / "second_site"
    shutil.copytree(
        installed_test_plugins.site_dir / "autodeploy_testplugin_good", second_site / "autodeploy_testplugin_good"
    )
    old_info = second_site / "autodeploy_testplugin_good-1.0.0.dist-info"
    shutil.copytree(installed_test_plugins.site_dir / "autodeploy_testplugin_good-1.2.3.dist-info", old_info)
    metadata = old_info / "METADATA"
    metadata.write_text(metadata.read_text().replace("\nVersion: 1.2.3\n", "\nVersion: 1.0.0\n", 1))
    plugin_dists_on_path.add(second_site, first=False)

    host = PluginHost.from_environment(environ=installed_test_plugins.only_these())
    hello_records = [record for record in host.plugins if record.name == "hello"]
    assert len(hello_records) == 1
    assert hello_records[0].status is PluginStatus.LOADED
    (problem,) = [problem for problem in host.problems() if "more than once" in problem]  # once per distribution
    assert f"loaded the copy in {installed_test_plugins.site_dir} (version 1.2.3)" in problem
    assert f"ignored the copies in {second_site} (version 1.0.0)" in problem
    assert list(host.transforms()["hello"].obj.__module__.split(".")) == ["autodeploy_testplugin_good", "transform"]
    assert "hello" not in {conflict.key for conflict in host.conflicts()}


def test_loading_entry_points_again_adds_nothing(host):
    count = len(host.plugins)
    assert host.load_entry_points() == []
    assert len(host.plugins) == count
