"""Running a pipeline: real torch.fx graphs transformed in stage order, hooks, report and errors."""

from __future__ import annotations

import pickle

import pytest
import torch
from tiny_pipeline_plugin import TINY_MODE, TinyMLP

from autodeploy import (
    AutodeployError,
    BaseTransform,
    CachedSequenceInterface,
    ConfigError,
    SharedConfig,
    Stages,
    TransformError,
    TransformInfo,
    TransformStatus,
    hookimpl,
)
from autodeploy.optimizer import ConfigWarning, InferenceOptimizer, PipelineConfig, build_pipeline_config, container


class HookRecorder:
    """A real plugin object that records every lifecycle hook call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    def autodeploy_before_stage(self, stage, mod, report):
        self.calls.append(("before_stage", stage, len(report.records)))

    @hookimpl
    def autodeploy_after_stage(self, stage, mod, report):
        self.calls.append(("after_stage", stage, len(report.records)))

    @hookimpl
    def autodeploy_before_transform(self, key, stage, transform, mod, factory):
        self.calls.append(("before_transform", key, stage, type(transform).__name__, factory is not None))

    @hookimpl
    def autodeploy_after_transform(self, key, stage, record, mod):
        self.calls.append(("after_transform", key, stage, record.status))

    @hookimpl
    def autodeploy_transform_error(self, key, stage, error, record, will_continue):
        self.calls.append(("transform_error", key, stage, type(error).__name__, record.status, will_continue))


@pytest.fixture
def cm() -> CachedSequenceInterface:
    return CachedSequenceInterface(max_seq_len=16, device="cpu")


def reference_output(x: torch.Tensor, factor: float) -> torch.Tensor:
    """What the `tiny` pipeline should compute: the same seeded MLP, gelu for relu, times `factor`."""
    torch.manual_seed(0)
    mlp = TinyMLP()
    return mlp.down(torch.nn.functional.gelu(mlp.up(x))) * factor


def test_call_starts_from_a_pipeline_module_and_returns_a_working_model(host, factory, cm):
    mod = InferenceOptimizer(factory, {"mode": "tiny"}, host=host)(cm)
    assert isinstance(mod, container.PipelineModule)
    assert isinstance(mod.factory_model, torch.fx.GraphModule)
    x = torch.randn(3, 4)
    torch.testing.assert_close(mod(x), reference_output(x, factor=3.0))
    targets = {node.target for node in mod.factory_model.graph.nodes if node.op == "call_function"}
    assert torch.relu not in targets and torch.nn.functional.gelu in targets


def test_run_returns_the_module_and_a_report_in_stage_order(host, factory, cm):
    config = {"mode": "tiny", "transforms": {"scale_output": {"factor": 0.5}}}
    optimizer = InferenceOptimizer(factory, config, host=host)
    result = optimizer.run(cm)
    assert [(r.key, r.stage, r.status) for r in result.report.records] == [
        ("build_tiny", Stages.FACTORY, TransformStatus.APPLIED),
        ("relu_to_gelu", Stages.PATTERN_MATCHER, TransformStatus.APPLIED),
        ("scale_output", Stages.POST_LOAD_FUSION, TransformStatus.APPLIED),
    ]
    assert [r.num_matches for r in result.report.records] == [1, 1, 1]
    assert optimizer.last_report is result.report
    x = torch.randn(2, 4)
    torch.testing.assert_close(result.module(x), reference_output(x, factor=0.5))


def test_a_given_module_is_transformed_instead(host, cm):
    traced = torch.fx.symbolic_trace(TinyMLP())
    x = torch.randn(2, 4)
    expected = traced(x) * 2.0
    config = {"transforms": {"scale_output": {"stage": "post_load_fusion"}}}
    mod = InferenceOptimizer(None, config, host=host)(cm, traced)
    torch.testing.assert_close(mod(x), expected)


def test_flat_config_and_yaml_path_and_pipeline_config_are_accepted(host, factory, cm, tmp_path):
    flat = {key: dict(entry) for key, entry in TINY_MODE.items()}
    path = tmp_path / "pipeline.yaml"
    path.write_text("mode: tiny\n")
    x = torch.randn(2, 4)
    for config in (flat, path, str(path), build_pipeline_config(host, mode="tiny")):
        mod = InferenceOptimizer(factory, config, host=host)(cm)
        torch.testing.assert_close(mod(x), reference_output(x, factor=3.0))


def test_config_errors_are_raised_at_construction(host, factory, tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("mode: tiny\ntransforms:\n  scale_output:\n    factor: lots\n")
    with pytest.raises(AutodeployError) as info:
        InferenceOptimizer(factory, path, host=host)
    assert str(info.value).startswith(f"{path}: transforms.scale_output.factor: expected a valid number")


def test_strict_refuses_unknown_fields_at_construction(host, factory):
    config = {"mode": "tiny", "transforms": {"scale_output": {"factor_value": 2}}}
    with pytest.warns(ConfigWarning, match="did you mean 'factor'"):
        InferenceOptimizer(factory, config, host=host)
    with pytest.raises(AutodeployError, match="did you mean 'factor'"):
        InferenceOptimizer(factory, config, host=host, strict=True)


def test_a_misspelt_field_is_refused_at_construction_even_when_not_strict(host, factory):
    config = {"mode": "tiny", "transforms": {"scale_output": {"factr": 2}}}
    with pytest.raises(
        AutodeployError, match="unknown field 'factr' for transform 'scale_output'; did you mean 'factor'"
    ):
        InferenceOptimizer(factory, config, host=host)


def test_lifecycle_hooks_are_called_in_order_with_their_arguments(host, factory, cm):
    recorder = HookRecorder()
    host.register(recorder, name="hook-recorder")
    config = {"mode": "tiny", "transforms": {"relu_to_gelu": {"enabled": False}}}
    InferenceOptimizer(factory, config, host=host).run(cm)
    assert recorder.calls == [
        ("before_stage", Stages.FACTORY, 0),
        ("before_transform", "build_tiny", Stages.FACTORY, "BuildTiny", True),
        ("after_transform", "build_tiny", Stages.FACTORY, TransformStatus.APPLIED),
        ("after_stage", Stages.FACTORY, 1),
        ("before_stage", Stages.PATTERN_MATCHER, 1),
        ("before_transform", "relu_to_gelu", Stages.PATTERN_MATCHER, "ReluToGelu", True),
        ("after_transform", "relu_to_gelu", Stages.PATTERN_MATCHER, TransformStatus.DISABLED),
        ("after_stage", Stages.PATTERN_MATCHER, 2),
        ("before_stage", Stages.POST_LOAD_FUSION, 2),
        ("before_transform", "scale_output", Stages.POST_LOAD_FUSION, "ScaleOutput", True),
        ("after_transform", "scale_output", Stages.POST_LOAD_FUSION, TransformStatus.APPLIED),
        ("after_stage", Stages.POST_LOAD_FUSION, 3),
    ]


def test_skip_on_error_goes_on_and_the_report_marks_the_failure(host, factory, cm):
    recorder = HookRecorder()
    host.register(recorder, name="hook-recorder")
    config = {
        "mode": "tiny",
        "transforms": {"explode": {"stage": "export", "run_per_gm": False, "skip_on_error": True}},
    }
    result = InferenceOptimizer(factory, config, host=host).run(cm)
    (failed,) = result.report.failed
    assert failed.key == "explode" and failed.stage is Stages.EXPORT
    assert failed.error == "ValueError: boom: the explode transform always fails"
    assert [r.key for r in result.report.records] == ["build_tiny", "explode", "relu_to_gelu", "scale_output"]
    explode_calls = [call for call in recorder.calls if "explode" in call]
    assert explode_calls == [
        ("before_transform", "explode", Stages.EXPORT, "Explode", True),
        ("transform_error", "explode", Stages.EXPORT, "ValueError", TransformStatus.FAILED, True),
        ("after_transform", "explode", Stages.EXPORT, TransformStatus.FAILED),
    ]
    x = torch.randn(2, 4)
    torch.testing.assert_close(result.module(x), reference_output(x, factor=3.0))


def test_a_failing_transform_raises_with_the_report(host, factory, cm):
    recorder = HookRecorder()
    host.register(recorder, name="hook-recorder")
    optimizer = InferenceOptimizer(
        factory, {"mode": "tiny", "transforms": {"explode": {"stage": "export", "run_per_gm": False}}}, host=host
    )
    with pytest.raises(TransformError) as info:
        optimizer(cm)
    error = info.value
    assert (error.key, error.stage) == ("explode", "export")
    assert "boom" in str(error) and isinstance(error.__cause__, ValueError)
    assert error.report is optimizer.last_report
    assert [(r.key, r.status) for r in error.report.records] == [
        ("build_tiny", TransformStatus.APPLIED),
        ("explode", TransformStatus.FAILED),
    ]
    assert recorder.calls[-1] == (
        "transform_error",
        "explode",
        Stages.EXPORT,
        "ValueError",
        TransformStatus.FAILED,
        False,
    )
    assert not any(call[0] == "after_transform" and call[1] == "explode" for call in recorder.calls)


class ShardingPlugin:
    """Provides a (do-nothing) sharding transform: ranks beyond one are then allowed."""

    @hookimpl
    def autodeploy_register_transforms(self, register):
        class DetectSharding(BaseTransform):
            def _apply(self, gm, cm, factory, shared_config):
                return gm, TransformInfo(skipped=True, num_matches=0)

        register("detect_sharding", DetectSharding)


def test_shared_config_defaults_to_the_world_size(host, factory):
    # without a sharding transform, ranks beyond one would each hold the whole model
    with pytest.raises(ConfigError, match="no installed plugin provides a sharding transform"):
        InferenceOptimizer(factory, {"world_size": 4, "transforms": {}}, host=host)
    host.register(ShardingPlugin(), name="sharding-test-plugin")
    # with one, a world size this process is not part of is refused with how to start the ranks
    with pytest.raises(ConfigError, match="world_size is 4 but this is a single process: start 4 ranks with `torchrun"):
        InferenceOptimizer(factory, {"world_size": 4, "transforms": {}}, host=host)
    with pytest.raises(ConfigError, match="world_size is 2 but this is a single process"):
        InferenceOptimizer(factory, {"tensor_parallel_size": 2, "transforms": {}}, host=host)
    assert InferenceOptimizer(factory, {"world_size": 1, "transforms": {}}, host=host).shared_config.world_size == 1
    given = SharedConfig(local_rank=1, world_size=2)
    assert InferenceOptimizer(factory, PipelineConfig(), host=host, shared_config=given).shared_config is given


def test_pipeline_module_without_a_model_says_what_is_missing(host, cm):
    mod = InferenceOptimizer(None, {"transforms": {"relu_to_gelu": {"stage": "pattern_matcher"}}}, host=host)(cm)
    with pytest.raises(AutodeployError, match="no factory-stage transform"):
        mod(torch.randn(1, 4))


def test_pipeline_module_class_is_made_once_and_pickles(host, factory, cm):
    assert container.new_pipeline_module().__class__ is container.PipelineModule
    mod = InferenceOptimizer(factory, {"mode": "tiny"}, host=host)(cm)
    restored = pickle.loads(pickle.dumps(mod))
    x = torch.randn(2, 4)
    torch.testing.assert_close(restored(x), mod(x))
