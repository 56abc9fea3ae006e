"""In-process plugins (tests, notebooks), strict mode, and the errors for unknown names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from autodeploy import (
    BaseTransform,
    ConfigError,
    PluginControls,
    PluginError,
    PluginHost,
    PluginStatus,
    TransformConfig,
    TransformInfo,
    UnknownTransformError,
    hookimpl,
)


class TagConfig(TransformConfig):
    tag: str = "x"


class TagTransform(BaseTransform):
    @classmethod
    def get_config_class(cls):
        return TagConfig

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        return mod, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)


class OtherTransform(BaseTransform):
    pass


class NotebookPlugin:
    """A class-instance plugin, as one would write in a notebook."""

    __version__ = "0.0.1"

    @hookimpl
    def autodeploy_register_transforms(self, register):
        register("nb_tag", TagTransform)
        register("nb_other", OtherTransform)

    @hookimpl
    def autodeploy_register_modes(self, register):
        register("notebook", {"nb_tag": {"stage": "post_export", "tag": "from mode"}})


def autoload_off_host() -> PluginHost:
    return PluginHost.from_environment(environ={"AUTODEPLOY_DISABLE_PLUGIN_AUTOLOAD": "1"})


def test_in_process_registration_works_with_autoload_off():
    host = autoload_off_host()
    record = host.register(NotebookPlugin(), name="notebook")
    assert record.status is PluginStatus.LOADED
    assert (record.name, record.group, record.value, record.distribution, record.version) == (
        "notebook",
        "<in-process>",
        "<in-process>",
        None,
        "0.0.1",
    )
    assert host.transform_class("nb_tag") is TagTransform
    assert host.transform_key_of(TagTransform) == "nb_tag"
    assert host.transform_key_of(OtherTransform) == "nb_other"
    assert "transform_key" not in vars(TagTransform)  # the key lives on the registration, not the class
    assert host.mode("notebook") == {"nb_tag": {"stage": "post_export", "tag": "from mode"}}
    assert host.modes_for("nb_tag") == ["notebook"]
    assert record.provides == ["transform nb_tag", "transform nb_other", "mode notebook"]
    assert record.origin == "plugin 'notebook' (in-process)"


def test_one_class_under_two_keys_in_two_hosts_runs_under_each_hosts_key():
    def plugin_registering(key: str) -> object:
        class Registers:
            @hookimpl
            def autodeploy_register_transforms(self, register):
                register(key, TagTransform)

        return Registers()

    from autodeploy.testing import run_transform

    hosts = {}
    for key in ("alpha", "beta"):
        hosts[key] = PluginHost(PluginControls(autoload=False))
        hosts[key].register(plugin_registering(key), name=f"registers_{key}")
    for key, host in hosts.items():
        assert host.transform_class(key) is TagTransform and host.transform_key_of(TagTransform) == key
        _, by_key = run_transform(key, host=host, stage="post_export", run_per_gm=False)
        _, by_class = run_transform(TagTransform, host=host, stage="post_export", run_per_gm=False)
        assert by_key.key == by_class.key == key
    # created outside any host, the class has no key of its own to fall back on
    with pytest.raises(TypeError, match="TagTransform has no transform key"):
        _ = TagTransform.from_kwargs(stage="post_export").key
    transform = TagTransform(TagConfig(stage="post_export"))
    transform.key = "mine"
    assert transform.key == "mine"


def test_registering_after_a_lookup_refreshes_what_is_available():
    host = PluginHost(PluginControls(autoload=False))
    assert host.transforms() == {}
    host.register(NotebookPlugin(), name="late")
    assert set(host.transforms()) == {"nb_other", "nb_tag"}


def test_same_name_or_same_object_twice_gives_a_failed_record():
    host = PluginHost(PluginControls(autoload=False))
    plugin = NotebookPlugin()
    host.register(plugin, name="first")
    again = host.register(NotebookPlugin(), name="first")
    assert again.status is PluginStatus.FAILED
    assert again.error == "a plugin named 'first' is already registered: plugin 'first' (in-process)"
    same_object = host.register(plugin, name="second")
    assert same_object.status is PluginStatus.FAILED
    assert same_object.error == "ValueError: the same object is already registered as plugin 'first'"
    assert set(host.transforms()) == {"nb_other", "nb_tag"}


def test_in_process_hookimpl_not_fitting_the_spec_gives_a_failed_record():
    class Wrong:
        @hookimpl
        def autodeploy_register_transforms(self, register, unexpected):
            raise AssertionError("never called")

    host = PluginHost(PluginControls(autoload=False))
    record = host.register(Wrong(), name="wrong")
    assert record.status is PluginStatus.FAILED
    assert "{'unexpected'}" in record.error
    assert host.problems() == [f"plugin 'wrong' (in-process) failed: {record.error}"]


def test_unmarked_hook_function_and_plugin_without_hooks_are_problems():
    class Forgot:
        def autodeploy_register_transforms(self, register):
            register("forgotten", OtherTransform)

    class Empty:
        pass

    host = PluginHost(PluginControls(autoload=False))
    assert host.register(Forgot(), name="forgot").problems == [
        "autodeploy_register_transforms is not marked with @autodeploy.hookimpl and is ignored"
    ]
    assert host.register(Empty(), name="empty").problems == [
        "implements no autodeploy_* hook (is @autodeploy.hookimpl missing?)"
    ]
    assert "forgotten" not in host.transforms()


def test_class_registered_under_two_keys_keeps_the_first():
    class TwoKeys:
        @hookimpl
        def autodeploy_register_transforms(self, register):
            register("first_key", OtherTransform)
            register("second_key", OtherTransform)

    host = PluginHost(PluginControls(autoload=False))
    record = host.register(TwoKeys(), name="two_keys")
    assert set(host.transforms()) == {"first_key"}
    assert host.transform_key_of(OtherTransform) == "first_key"
    assert "class OtherTransform is already registered as 'first_key'" in record.problems[0]
    with pytest.raises(PluginError, match="a class carries one key"):
        host.transform_class("second_key")


def test_register_callable_kept_and_called_later_is_refused():
    kept = []

    class Keeper:
        @hookimpl
        def autodeploy_register_transforms(self, register):
            kept.append(register)

    host = PluginHost(PluginControls(autoload=False))
    host.register(Keeper(), name="keeper")
    assert host.transforms() == {}
    with pytest.raises(RuntimeError, match="called after the hook returned"):
        kept[0]("late", OtherTransform)


def test_in_process_key_conflicting_with_installed_plugin(installed_test_plugins, plugin_dists_on_path):
    class Shadow:
        @hookimpl
        def autodeploy_register_transforms(self, register):
            register("hello", OtherTransform)

    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-testplugin-good"})
    host.register(Shadow(), name="shadow")
    with pytest.raises(
        PluginError, match=r"plugin 'hello' \(autodeploy-testplugin-good 1\.2\.3\) and plugin 'shadow' \(in-process\)"
    ):
        host.transform_class("hello")


def test_unknown_transform_names_the_closest_keys_and_the_loaded_plugins():
    host = PluginHost(PluginControls(autoload=False))
    host.register(NotebookPlugin(), name="notebook")
    with pytest.raises(UnknownTransformError) as caught:
        host.transform_class("nb_tagg")
    assert isinstance(caught.value, ConfigError)
    message = str(caught.value)
    assert "unknown transform 'nb_tagg'" in message
    assert "did you mean 'nb_tag'" in message
    assert "loaded plugins: plugin 'notebook' (in-process)" in message
    with pytest.raises(UnknownTransformError, match="available: nb_other, nb_tag"):
        host.transform_class("zzzzzz")


def test_unknown_mode_and_factory_list_what_exists():
    host = PluginHost(PluginControls(autoload=False))
    host.register(NotebookPlugin(), name="notebook")
    with pytest.raises(
        ConfigError, match=r"unknown mode 'notebok'; did you mean 'notebook'\? Available modes: notebook"
    ):
        host.mode("notebok")
    with pytest.raises(ConfigError, match="unknown factory 'AutoModelForCausalLM'; available: none"):
        host.factory_class("AutoModelForCausalLM")


def test_strict_mode_raises_listing_every_problem(installed_test_plugins, plugin_dists_on_path):
    host = PluginHost.from_environment(environ=installed_test_plugins.only_these(AUTODEPLOY_STRICT_PLUGINS="1"))
    with pytest.raises(PluginError) as caught:
        host.transforms()
    message = str(caught.value)
    assert "strict plugin checks (AUTODEPLOY_STRICT_PLUGINS=1) found" in message
    for expected in (
        "autodeploy-testplugin-broken-import 0.3.0) failed: ModuleNotFoundError",
        "autodeploy-testplugin-broken-register 0.4.0) failed: RuntimeError",
        "autodeploy-testplugin-incompatible 0.5.0) incompatible",
        "autodeploy-testplugin-bad-hookimpl 0.6.0) failed: PluginValidationError",
        "autodeploy-testplugin-bad-registrations 0.7.0): transform key 'has spaces'",
        "transform 'dup_key' is registered by",
    ):
        assert expected in message
    assert message.count("\n  - ") == len(host.problems())  # problems() itself never raises
    with pytest.raises(PluginError):
        host.transform_class("hello")


def test_strict_mode_passes_when_nothing_is_wrong(installed_test_plugins, plugin_dists_on_path):
    host = PluginHost.from_environment(strict=True, environ={"AUTODEPLOY_PLUGINS": "autodeploy-testplugin-good"})
    assert host.transform_class("hello").__name__ == "Hello"


def test_strict_mode_applies_to_in_process_registrations():
    class BadKey:
        @hookimpl
        def autodeploy_register_transforms(self, register):
            register("bad key", OtherTransform)

    host = PluginHost(PluginControls(autoload=False, strict=True))
    host.register(BadKey(), name="bad_key")
    with pytest.raises(PluginError, match="transform key 'bad key' is not a plain YAML key"):
        host.transforms()


def test_transform_whose_config_schema_does_not_render_is_rejected():
    class CallableConfig(TransformConfig):
        callback: Callable[[], None] = print

    class CallableTransform(BaseTransform):
        @classmethod
        def get_config_class(cls):
            return CallableConfig

    class Plugin:
        @hookimpl
        def autodeploy_register_transforms(self, register):
            register("callable_config", CallableTransform)

    host = PluginHost(PluginControls(autoload=False))
    record = host.register(Plugin(), name="callable")
    assert host.transforms() == {}  # registrations are collected (and checked) on first use
    (problem,) = record.problems
    assert problem.startswith("transform 'callable_config': the JSON schema of ")
    assert "does not render: PydanticInvalidForJsonSchema: Cannot generate a JsonSchema" in problem
    assert "\n" not in problem
