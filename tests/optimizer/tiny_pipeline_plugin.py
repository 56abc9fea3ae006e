"""A small, real plugin for the optimizer tests: transforms on torch.fx graphs, a mode, a factory.

The tests register it in process on a host that loads no installed plugin (see conftest.py), so
they depend only on what is defined here.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
from pydantic import Field
from torch import fx, nn

from autodeploy import BaseTransform, ModelFactory, TransformConfig, TransformInfo, hookimpl


class BuildTinyConfig(TransformConfig):
    """Config of `BuildTiny`."""

    device: str = Field(default="cpu", description="Where to build the model.")


class BuildTiny(BaseTransform):
    """Factory stage: put the factory's model at ``mod.factory_model``."""

    config: BuildTinyConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return BuildTinyConfig

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        mod.factory_model = factory.build_model(self.config.device)
        return mod, TransformInfo(skipped=False, num_matches=1)


class ReluToGelu(BaseTransform):
    """Per graph: rewrite every ``torch.relu`` call into ``gelu``."""

    def _apply(self, gm, cm, factory, shared_config):
        matches = 0
        for node in gm.graph.nodes:
            if node.op == "call_function" and node.target is torch.relu:
                node.target = torch.nn.functional.gelu
                matches += 1
        gm.recompile()
        return gm, TransformInfo(skipped=False, num_matches=matches)


class ScaleOutputConfig(TransformConfig):
    """Config of `ScaleOutput`."""

    factor: float = Field(default=2.0, description="What the output is multiplied by.")
    label: str = Field(default="scaled", description="A name, for messages.")


class ScaleOutput(BaseTransform):
    """Per graph: multiply the graph's output by ``factor``."""

    config: ScaleOutputConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return ScaleOutputConfig

    def _apply(self, gm, cm, factory, shared_config):
        output = next(node for node in gm.graph.nodes if node.op == "output")
        (result,) = output.args
        with gm.graph.inserting_before(output):
            scaled = gm.graph.call_function(operator.mul, (result, self.config.factor))
        output.args = (scaled,)
        gm.recompile()
        return gm, TransformInfo(skipped=False, num_matches=1)


class Explode(BaseTransform):
    """Whole model: always fails (to test error handling)."""

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        raise ValueError("boom: the explode transform always fails")


class TinyFactory(ModelFactory):
    """Builds a traced two-layer MLP (a real torch.fx.GraphModule), seeded."""

    def _build_model(self, device: str):
        torch.manual_seed(0)
        return fx.symbolic_trace(TinyMLP()).to(device)

    def _load_checkpoint(self, model, device: str) -> None:
        raise NotImplementedError("TinyFactory has no checkpoint; tests build with random weights")


class TinyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Linear(4, 8)
        self.down = nn.Linear(8, 2)

    def forward(self, x):
        return self.down(torch.relu(self.up(x)))


TINY_MODE: dict[str, dict[str, Any]] = {
    "build_tiny": {"stage": "factory", "run_per_gm": False},
    "relu_to_gelu": {"stage": "pattern_matcher"},
    "scale_output": {"stage": "post_load_fusion", "factor": 3.0, "label": "from-mode"},
}


class TinyPipelinePlugin:
    """The test plugin: four transforms, the `tiny` mode and the `TinyFactory` model factory."""

    @hookimpl
    def autodeploy_register_transforms(self, register):
        register("build_tiny", BuildTiny)
        register("relu_to_gelu", ReluToGelu)
        register("scale_output", ScaleOutput)
        register("explode", Explode)

    @hookimpl
    def autodeploy_register_modes(self, register):
        register("tiny", TINY_MODE)

    @hookimpl
    def autodeploy_register_factories(self, register):
        register("TinyFactory", TinyFactory)
