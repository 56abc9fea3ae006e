"""BaseTransform.__call__: dispatch, cleanup and shape propagation, errors, history, memory, dumps.

All on real fx graphs from `torch.fx.symbolic_trace` of small modules.
"""

from __future__ import annotations

import logging

import pytest
import torch
from torch import fx, nn

from autodeploy import (
    BaseTransform,
    CachedSequenceInterface,
    SharedConfig,
    TransformConfig,
    TransformError,
    TransformInfo,
    TransformStatus,
    get_history,
)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, input_ids):
        hidden = self.proj(input_ids.float())
        return torch.relu(hidden)


def traced() -> fx.GraphModule:
    return fx.symbolic_trace(TinyNet())


def add_dead_node(gm: fx.GraphModule) -> None:
    """Insert a node nobody uses: graph cleanup must remove it."""
    placeholder = next(n for n in gm.graph.nodes if n.op == "placeholder")
    with gm.graph.inserting_after(placeholder):
        gm.graph.call_function(torch.neg, (placeholder,))
    gm.recompile()


def count_nodes(gm: fx.GraphModule, target) -> int:
    return sum(1 for n in gm.graph.nodes if n.target is target)


class ReluToGelu(BaseTransform):
    """Replaces relu by gelu: one match per relu; declares nothing about cleanliness."""

    transform_key = "relu_to_gelu"

    def _apply(self, gm, cm, factory, shared_config):
        matches = 0
        for node in gm.graph.nodes:
            if node.target is torch.relu:
                node.target = torch.nn.functional.gelu
                matches += 1
        gm.recompile()
        return gm, TransformInfo(skipped=False, num_matches=matches)


class CountCalls(BaseTransform):
    """Counts which entry point ran, per GraphModule or for the whole model."""

    transform_key = "count_calls"

    def __init__(self, config):
        super().__init__(config)
        self.per_gm_calls: list[fx.GraphModule] = []
        self.full_calls = 0

    def _apply(self, gm, cm, factory, shared_config):
        self.per_gm_calls.append(gm)
        return gm, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        self.full_calls += 1
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)


class Explode(BaseTransform):
    transform_key = "explode"

    def _apply(self, gm, cm, factory, shared_config):
        raise RuntimeError("the pattern matcher exploded")


class NumberedConfig(TransformConfig):
    number: int = 7


class Numbered(BaseTransform):
    transform_key = "numbered"

    config: NumberedConfig

    @classmethod
    def get_config_class(cls):
        return NumberedConfig


@pytest.fixture
def cm():
    return CachedSequenceInterface(max_seq_len=16, max_batch_size=4, example_seq_len=4)


def run(transform: BaseTransform, mod, cm):
    return transform(mod, cm, None, SharedConfig())


def test_transform_is_applied_and_recorded(cm):
    gm = traced()
    out = run(ReluToGelu.from_kwargs(stage="pattern_matcher"), gm, cm)
    assert count_nodes(out, torch.relu) == 0
    assert count_nodes(out, torch.nn.functional.gelu) == 1
    (record,) = get_history(out)
    assert record.key == "relu_to_gelu"
    assert record.stage.value == "pattern_matcher"
    assert record.status is TransformStatus.APPLIED
    assert record.num_matches == 1
    assert record.info.is_clean  # run_graph_cleanup defaults to true, so it was cleaned after


def test_disabled_transform_only_records_a_skip(cm):
    gm = traced()
    add_dead_node(gm)
    out = run(ReluToGelu.from_kwargs(stage="pattern_matcher", enabled=False), gm, cm)
    assert count_nodes(out, torch.relu) == 1
    assert count_nodes(out, torch.neg) == 1, "a disabled transform must not clean the graph either"
    (record,) = get_history(out)
    assert record.status is TransformStatus.DISABLED
    assert record.info.skipped and record.num_matches == 0


def test_pre_cleanup_runs_only_when_graph_is_not_known_clean(cm):
    gm = traced()
    add_dead_node(gm)
    run(CountCalls.from_kwargs(stage="post_export", requires_clean_graph=True), gm, cm)
    assert count_nodes(gm, torch.neg) == 0, "history said nothing about cleanliness: cleanup must run"
    add_dead_node(gm)  # history now says clean, so the next transform trusts it and skips cleanup
    run(CountCalls.from_kwargs(stage="post_export", requires_clean_graph=True), gm, cm)
    assert count_nodes(gm, torch.neg) == 1


def test_requires_clean_graph_false_leaves_dead_code(cm):
    gm = traced()
    add_dead_node(gm)
    run(CountCalls.from_kwargs(stage="post_export", requires_clean_graph=False, run_graph_cleanup=False), gm, cm)
    assert count_nodes(gm, torch.neg) == 1


def test_shape_prop_before_when_required(cm):
    gm = traced()
    out = run(CountCalls.from_kwargs(stage="pattern_matcher", requires_shape_prop=True), gm, cm)
    shapes = {n.name: tuple(n.meta["val"].shape) for n in out.graph.nodes if "val" in n.meta}
    assert shapes["input_ids"] == (cm.example_batch_size, cm.example_seq_len)
    assert shapes["relu"] == (cm.example_batch_size, cm.example_seq_len)
    assert get_history(out)[-1].info.has_valid_shapes


def test_shape_prop_after_when_configured(cm):
    gm = traced()
    out = run(ReluToGelu.from_kwargs(stage="pattern_matcher", run_shape_prop=True), gm, cm)
    gelu = next(n for n in out.graph.nodes if n.target is torch.nn.functional.gelu)
    assert tuple(gelu.meta["val"].shape) == (cm.example_batch_size, cm.example_seq_len)
    assert get_history(out)[-1].info.has_valid_shapes


def test_shape_state_is_tracked_across_transforms(cm):
    gm = traced()
    run(ReluToGelu.from_kwargs(stage="pattern_matcher", run_shape_prop=True), gm, cm)
    assert get_history(gm)[-1].info.has_valid_shapes
    # a transform that changes the graph without claiming valid shapes invalidates them
    run(ReluToGelu.from_kwargs(stage="pattern_matcher"), gm, cm)  # no relu left: 0 matches, state kept
    assert get_history(gm)[-1].info.has_valid_shapes
    gm.graph.call_function(torch.relu, (next(iter(gm.graph.nodes)),))
    run(ReluToGelu.from_kwargs(stage="pattern_matcher"), gm, cm)  # 1 match: shapes now unknown
    assert not get_history(gm)[-1].info.has_valid_shapes


def test_run_per_gm_visits_every_graph_module(cm):
    container = nn.Module()
    container.add_module("first", traced())
    container.add_module("second", traced())
    transform = CountCalls.from_kwargs(stage="post_export")
    out = run(transform, container, cm)
    assert transform.per_gm_calls == [container.first, container.second]
    assert transform.full_calls == 0
    assert get_history(out)[-1].num_matches == 2


def test_run_per_gm_without_graph_modules_is_a_skip(cm):
    transform = CountCalls.from_kwargs(stage="post_export")
    out = run(transform, TinyNet(), cm)
    assert transform.per_gm_calls == []
    record = get_history(out)[-1]
    assert record.status is TransformStatus.SKIPPED and record.info.skipped


def test_whole_model_dispatch(cm):
    transform = CountCalls.from_kwargs(stage="factory", run_per_gm=False)
    module = nn.Module()
    out = run(transform, module, cm)
    assert transform.full_calls == 1 and transform.per_gm_calls == []
    assert out is module and get_history(out)[-1].num_matches == 1


def test_error_raises_transform_error_naming_key_and_stage(cm):
    gm = traced()
    with pytest.raises(TransformError) as excinfo:
        run(Explode.from_kwargs(stage="pattern_matcher"), gm, cm)
    error = excinfo.value
    assert (error.key, error.stage) == ("explode", "pattern_matcher")
    assert "explode" in str(error) and "pattern_matcher" in str(error) and "exploded" in str(error)
    assert isinstance(error.__cause__, RuntimeError)
    record = get_history(gm)[-1]
    assert record.status is TransformStatus.FAILED and "exploded" in record.error


def test_skip_on_error_records_and_goes_on(cm, caplog):
    gm = traced()
    transform = Explode.from_kwargs(stage="pattern_matcher", skip_on_error=True)
    with caplog.at_level(logging.WARNING, logger="autodeploy"):
        out = run(transform, gm, cm)
    assert out is gm
    record = get_history(gm)[-1]
    assert record.status is TransformStatus.FAILED
    assert record.error == "RuntimeError: the pattern matcher exploded"
    assert "Traceback" in record.traceback and "_apply" in record.traceback
    assert isinstance(transform.last_error, RuntimeError)
    assert "explode" in caplog.text and "skip_on_error" in caplog.text


def test_history_keeps_reruns_in_order(cm):
    gm = traced()
    for stage in ("post_export", "pattern_matcher", "post_export"):
        run(CountCalls.from_kwargs(stage=stage), gm, cm)
    run(ReluToGelu.from_kwargs(stage="pattern_matcher"), gm, cm)
    assert [(r.key, r.stage.value) for r in get_history(gm)] == [
        ("count_calls", "post_export"),
        ("count_calls", "pattern_matcher"),
        ("count_calls", "post_export"),
        ("relu_to_gelu", "pattern_matcher"),
    ]


class Allocate(BaseTransform):
    """Holds on to 256 MB of touched memory: RSS really grows."""

    transform_key = "allocate"

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        mod.register_buffer("ballast", torch.ones(64 * 1024 * 1024))
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)


@pytest.mark.parametrize("expected", [False, True])
def test_memory_change_is_measured_and_reported(cm, caplog, expected):
    module = nn.Module()
    transform = Allocate.from_kwargs(stage="weight_load", run_per_gm=False, expect_mem_change=expected)
    with caplog.at_level(logging.INFO, logger="autodeploy"):
        run(transform, module, cm)
    record = get_history(module)[-1]
    assert record.mem_change_mb > 200
    messages = [r for r in caplog.records if "changed memory" in r.getMessage()]
    assert len(messages) == 1
    # RSS alone (no CUDA here) is reported, never warned about: imports and the allocator move it too
    assert messages[0].levelno == logging.INFO
    assert "RSS +" in messages[0].getMessage()
    assert ("as expected" in messages[0].getMessage()) is expected


def test_only_a_device_memory_change_is_worth_a_warning():
    from autodeploy.transform.memory import MemorySnapshot, device_memory_changed, significant_change

    cpu_before, cpu_after = MemorySnapshot(rss_mb=500.0, cuda_mb=None), MemorySnapshot(rss_mb=900.0, cuda_mb=None)
    assert significant_change(cpu_before, cpu_after) == "RSS +400.0 MB"
    assert not device_memory_changed(cpu_before, cpu_after)
    gpu_before, gpu_after = MemorySnapshot(rss_mb=500.0, cuda_mb=100.0), MemorySnapshot(rss_mb=510.0, cuda_mb=612.0)
    assert significant_change(gpu_before, gpu_after) == "CUDA +512.0 MB"
    assert device_memory_changed(gpu_before, gpu_after)
    assert not device_memory_changed(gpu_before, MemorySnapshot(rss_mb=510.0, cuda_mb=120.0))


def test_debug_visualize_dir_writes_one_dump_per_graph_module(cm, tmp_path):
    container = nn.Module()
    container.add_module("first", traced())
    container.add_module("second", traced())
    run(CountCalls.from_kwargs(stage="post_export"), container, cm)
    run(ReluToGelu.from_kwargs(stage="pattern_matcher", debug_visualize_dir=str(tmp_path)), container, cm)
    dumps = sorted(p.name for p in tmp_path.glob("*.py.txt"))
    assert dumps == ["002_relu_to_gelu_0_first.py.txt", "002_relu_to_gelu_1_second.py.txt"]
    text = (tmp_path / dumps[0]).read_text()
    assert "gelu" in text and "def forward" in text


def test_config_is_revalidated_into_the_subclass_config():
    base = TransformConfig(stage="post_load_fusion", number=3)
    transform = Numbered(base)
    assert isinstance(transform.config, NumberedConfig)
    assert transform.config.number == 3
    assert Numbered.from_kwargs(stage="compile").config.number == 7


def test_get_config_class_docstring_matches_reference():
    assert (
        BaseTransform.get_config_class.__doc__.split()
        == (
            "Get the configuration class for the transform. This is used to validate the configuration of the transform."
        ).split()
    )
