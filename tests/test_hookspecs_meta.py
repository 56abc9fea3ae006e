"""Meta-tests of the extension surface: every hook specification is documented (name and
signature in the reference), and the real code calls each one with every argument it promises.

The hooks are found in `autodeploy.hookspecs`, not listed here: a new hook fails these tests until
it is documented and a caller for it is added to `CALLERS`.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from autodeploy import (
    AttentionBackend,
    BaseTransform,
    CachedSequenceInterface,
    InferenceOptimizer,
    ModelFactory,
    PluginControls,
    PluginHost,
    RunReport,
    Stages,
    TransformError,
    TransformInfo,
    TransformRecord,
    TransformStatus,
    hookimpl,
    hookspecs,
)
from autodeploy.cli.model_source import resolve_model
from autodeploy.docs import generate_pages
from autodeploy.markers import PROJECT_NAME

ROOT = Path(__file__).resolve().parents[1]
SPECS = {
    name: function
    for name, function in vars(hookspecs).items()
    if inspect.isfunction(function) and hasattr(function, f"{PROJECT_NAME}_spec")
}


class Works(BaseTransform):
    """Counts the module's parameters."""

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        return mod, TransformInfo(skipped=False, num_matches=len(list(mod.parameters())))


class Fails(BaseTransform):
    """Always raises."""

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        raise ValueError("failing on purpose")


class NoFactory(ModelFactory):
    """A factory that is only registered, never built."""

    def _build_model(self, device):
        raise NotImplementedError

    def _load_checkpoint(self, model, device):
        raise NotImplementedError


class MetaBackend(AttentionBackend):
    """An attention backend that is only registered, never used."""


class Recorder:
    """Implements every hook with every argument, and records each call."""

    def __init__(self, resolved_folder: Path):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.resolved_folder = resolved_folder

    def _record(self, hook: str, /, **arguments: Any) -> None:
        self.calls.append((hook, arguments))

    def calls_of(self, name: str) -> list[dict[str, Any]]:
        return [arguments for called, arguments in self.calls if called == name]

    @hookimpl
    def autodeploy_register_transforms(self, register):
        self._record("autodeploy_register_transforms", register=register)
        register("meta_works", Works)
        register("meta_fails", Fails)

    @hookimpl
    def autodeploy_register_factories(self, register):
        self._record("autodeploy_register_factories", register=register)
        register("MetaFactory", NoFactory)

    @hookimpl
    def autodeploy_register_modes(self, register):
        self._record("autodeploy_register_modes", register=register)
        register("meta_mode", {"meta_works": {"stage": "compile", "run_per_gm": False}})

    @hookimpl
    def autodeploy_register_commands(self, register):
        self._record("autodeploy_register_commands", register=register)
        register("meta-command", help="does nothing", run=lambda args, host: 0)

    @hookimpl
    def autodeploy_register_attention_backends(self, register):
        self._record("autodeploy_register_attention_backends", register=register)
        register("meta-backend", MetaBackend())

    @hookimpl
    def autodeploy_before_stage(self, stage, mod, report):
        self._record("autodeploy_before_stage", stage=stage, mod=mod, report=report)

    @hookimpl
    def autodeploy_after_stage(self, stage, mod, report):
        self._record("autodeploy_after_stage", stage=stage, mod=mod, report=report)

    @hookimpl
    def autodeploy_before_transform(self, key, stage, transform, mod, factory):
        self._record("autodeploy_before_transform", key=key, stage=stage, transform=transform, mod=mod, factory=factory)

    @hookimpl
    def autodeploy_after_transform(self, key, stage, record, mod):
        self._record("autodeploy_after_transform", key=key, stage=stage, record=record, mod=mod)

    @hookimpl
    def autodeploy_transform_error(self, key, stage, error, record, will_continue):
        self._record(
            "autodeploy_transform_error", key=key, stage=stage, error=error, record=record, will_continue=will_continue
        )

    @hookimpl
    def autodeploy_resolve_model(self, name, cache_dir):
        self._record("autodeploy_resolve_model", name=name, cache_dir=cache_dir)
        return str(self.resolved_folder) if name == "meta-model" else None


# --- how the real code gets to call each hook ------------------------------------------------------


def collect_registrations(host: PluginHost, recorder: Recorder, tmp_path: Path) -> None:
    assert "meta_works" in host.transforms()
    assert host.factory_class("MetaFactory") is NoFactory
    assert host.mode("meta_mode") == {"meta_works": {"stage": "compile", "run_per_gm": False}}
    assert host.commands()["meta-command"].obj.help == "does nothing"
    assert isinstance(host.attention_backend("meta-backend"), MetaBackend)


def run_a_pipeline(host: PluginHost, recorder: Recorder, tmp_path: Path) -> None:
    config = {
        "transforms": {
            "meta_works": {"stage": "post_export", "run_per_gm": False},
            "meta_fails": {"stage": "compile", "run_per_gm": False, "skip_on_error": True},
        }
    }
    cm = CachedSequenceInterface(max_seq_len=8)
    InferenceOptimizer(None, config, host=host).run(cm, mod=torch.nn.Linear(2, 2))
    config["transforms"]["meta_fails"]["skip_on_error"] = False
    with pytest.raises(TransformError, match="failing on purpose"):
        InferenceOptimizer(None, config, host=host).run(cm, mod=torch.nn.Linear(2, 2))


def resolve_a_model_name(host: PluginHost, recorder: Recorder, tmp_path: Path) -> None:
    resolved = resolve_model("meta-model", host, tmp_path / "cache")
    assert resolved.by_plugin and resolved.path == str(recorder.resolved_folder)


CALLERS: dict[str, Callable[[PluginHost, Recorder, Path], None]] = {
    "autodeploy_register_transforms": collect_registrations,
    "autodeploy_register_factories": collect_registrations,
    "autodeploy_register_modes": collect_registrations,
    "autodeploy_register_commands": collect_registrations,
    "autodeploy_register_attention_backends": collect_registrations,
    "autodeploy_before_stage": run_a_pipeline,
    "autodeploy_after_stage": run_a_pipeline,
    "autodeploy_before_transform": run_a_pipeline,
    "autodeploy_after_transform": run_a_pipeline,
    "autodeploy_transform_error": run_a_pipeline,
    "autodeploy_resolve_model": resolve_a_model_name,
}

# what each argument must be when the real code passes it
ARGUMENT_TYPES: dict[str, Any] = {
    "register": Callable,
    "stage": Stages,
    "mod": torch.nn.Module,
    "report": RunReport,
    "key": str,
    "transform": BaseTransform,
    "factory": (ModelFactory, type(None)),
    "record": TransformRecord,
    "error": BaseException,
    "will_continue": bool,
    "name": (str, type(None)),
    "cache_dir": str,
}


def test_hooks_are_found():
    assert len(SPECS) >= 9 and all(name.startswith("autodeploy_") for name in SPECS)


def test_every_hook_has_a_caller_here():
    assert set(CALLERS) == set(SPECS), "add a caller for each new hook specification to CALLERS"


def test_every_argument_has_an_expected_type():
    arguments = {name for spec in SPECS.values() for name in inspect.signature(spec).parameters}
    assert arguments <= set(ARGUMENT_TYPES)


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_real_code_calls_the_hook_with_every_argument(hook, tmp_path):
    recorder = Recorder(resolved_folder=tmp_path / "resolved")
    host = PluginHost(PluginControls(autoload=False))
    assert host.register(recorder, name="recorder").is_usable
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pluggy warns when a call leaves out a specified argument
        CALLERS[hook](host, recorder, tmp_path)

    calls = recorder.calls_of(hook)
    assert calls, f"{CALLERS[hook].__name__} did not call {hook}"
    expected = list(inspect.signature(SPECS[hook]).parameters)
    for arguments in calls:
        assert list(arguments) == expected
        for name, value in arguments.items():
            assert isinstance(value, ARGUMENT_TYPES[name]) if ARGUMENT_TYPES[name] is not Callable else callable(value)


def test_lifecycle_hooks_see_the_run_in_order(tmp_path):
    recorder = Recorder(resolved_folder=tmp_path)
    host = PluginHost(PluginControls(autoload=False))
    host.register(recorder, name="recorder")
    run_a_pipeline(host, recorder, tmp_path)
    first_run = []
    for name, arguments in recorder.calls:
        if name.startswith("autodeploy_register_"):
            continue
        first_run.append((name, arguments.get("key", arguments.get("stage"))))
        if name == "autodeploy_after_stage" and arguments["stage"] is Stages.COMPILE:
            break
    assert first_run == [
        ("autodeploy_before_stage", Stages.POST_EXPORT),
        ("autodeploy_before_transform", "meta_works"),
        ("autodeploy_after_transform", "meta_works"),
        ("autodeploy_after_stage", Stages.POST_EXPORT),
        ("autodeploy_before_stage", Stages.COMPILE),
        ("autodeploy_before_transform", "meta_fails"),
        ("autodeploy_transform_error", "meta_fails"),
        ("autodeploy_after_transform", "meta_fails"),
        ("autodeploy_after_stage", Stages.COMPILE),
    ]
    errors = recorder.calls_of("autodeploy_transform_error")
    assert [call["will_continue"] for call in errors] == [True, False]
    assert all(call["record"].status is TransformStatus.FAILED for call in errors)


# --- documentation -------------------------------------------------------------------------------


def documented_signature_lines(hook: str) -> list[str]:
    """The lines a hook's signature must show in the reference: its name, each parameter, its return."""
    from autodeploy.docs.annotations import format_parameters, format_return

    function = SPECS[hook]
    return [
        f"def {hook}(",
        *(f"    {parameter}," for parameter in format_parameters(function)),
        f"){format_return(function)}",
    ]


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_every_hook_is_documented_with_its_signature(hook):
    generated = generate_pages(PluginHost(PluginControls(autoload=False)))["core.md"]
    committed = (ROOT / "docs" / "reference" / "core.md").read_text(encoding="utf-8")
    expected = "\n".join(documented_signature_lines(hook))
    for page in (generated, committed):
        assert f"### `{hook}`" in page
        assert expected in page
    for parameter in inspect.signature(SPECS[hook]).parameters:
        assert f"    {parameter}: " in expected  # every parameter is shown with its annotation
    assert inspect.getdoc(SPECS[hook]).splitlines()[0] in generated


CORE_CALLED = {name for name in SPECS if not name.startswith(("autodeploy_register_",))}


@pytest.mark.parametrize("hook", sorted(CORE_CALLED))
def test_the_core_calls_each_hook_through_a_host_method_with_the_specs_arguments(hook):
    """A typed method per hook the core calls: a misspelt hook or argument is the core's error."""
    from autodeploy.plugin.lifecycle import LifecycleCalls

    method = getattr(LifecycleCalls, hook.removeprefix("autodeploy_"))
    spec_parameters = list(inspect.signature(SPECS[hook]).parameters)
    assert list(inspect.signature(method).parameters)[1:] == spec_parameters
    assert hook in inspect.getsource(method)  # the method calls its own hook
