"""``run_per_gm`` follows what a transform implements: only `_apply_to_full_model` runs on the whole
model without ``run_per_gm: false``; only `_apply` runs per GraphModule; both keep the config's choice."""

from __future__ import annotations

import torch
from torch import fx, nn

from autodeploy import BaseTransform, CachedSequenceInterface, SharedConfig, TransformInfo, hookimpl
from autodeploy.optimizer import InferenceOptimizer
from autodeploy.plugin import PluginControls, PluginHost


class Calls:
    def __init__(self):
        self.per_gm: list[nn.Module] = []
        self.full: list[nn.Module] = []


CALLS = Calls()


class WholeModelOnly(BaseTransform):
    transform_key = "whole_model_only"

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        CALLS.full.append(mod)
        return mod, TransformInfo(skipped=False, num_matches=1)


class PerGraphOnly(BaseTransform):
    transform_key = "per_graph_only"

    def _apply(self, gm, cm, factory, shared_config):
        CALLS.per_gm.append(gm)
        return gm, TransformInfo(skipped=False, num_matches=1)


class Both(WholeModelOnly, PerGraphOnly):
    transform_key = "both_ways"


def container() -> nn.Module:
    module = nn.Module()
    module.add_module("graph", fx.symbolic_trace(nn.Linear(2, 2)))
    return module


def run(transform: BaseTransform, mod: nn.Module) -> nn.Module:
    return transform(mod, CachedSequenceInterface(max_seq_len=8), None, SharedConfig())


def test_whole_model_only_runs_on_the_whole_model_without_being_told():
    CALLS.__init__()
    transform = WholeModelOnly.from_kwargs(stage="post_load_fusion")
    assert transform.config.run_per_gm is False
    mod = container()
    run(transform, mod)
    assert CALLS.full == [mod] and CALLS.per_gm == []


def test_per_graph_only_runs_per_graph_even_where_a_config_says_otherwise():
    CALLS.__init__()
    mod = container()
    run(PerGraphOnly.from_kwargs(stage="post_export", run_per_gm=False), mod)  # AutoDeploy's files say false
    assert CALLS.per_gm == [mod.graph] and CALLS.full == []


def test_both_keep_the_configs_choice():
    CALLS.__init__()
    mod = container()
    run(Both.from_kwargs(stage="post_export"), mod)  # the default: per graph
    run(Both.from_kwargs(stage="post_export", run_per_gm=False), mod)
    assert CALLS.per_gm == [mod.graph] and CALLS.full == [mod]


class Plugin:
    @hookimpl
    def autodeploy_register_transforms(self, register):
        register("whole_model_only", WholeModelOnly)
        register("both_ways", Both)


def test_validated_pipeline_entries_say_how_they_run():
    host = PluginHost(PluginControls(autoload=False))
    host.register(Plugin(), name="run-per-gm-test-plugin")
    config = {"transforms": {"whole_model_only": {"stage": "compile"}, "both_ways": {"stage": "compile"}}}
    optimizer = InferenceOptimizer(None, config, host=host)
    assert {entry.key: entry.config.run_per_gm for entry in optimizer.entries} == {
        "whole_model_only": False,
        "both_ways": True,
    }
    CALLS.__init__()
    optimizer(CachedSequenceInterface(max_seq_len=8), mod=torch.nn.Linear(2, 2))
    assert len(CALLS.full) == 1 and CALLS.per_gm == []  # the Linear holds no GraphModule: both_ways skips
