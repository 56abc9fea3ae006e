"""Entry point of autodeploy-plugin-fusions: registers the matchers and fusions and their place in
the ``graph`` preset (all on: each keeps the logits within float tolerance of the unfused graph).

Torch-free: the transform classes are defined without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

from .transforms import (
    EliminateRedundantTransposes,
    FuseAddRMSNorm,
    FuseGemms,
    FuseRMSNorm,
    FuseSwiGLU,
    MatchRMSNormPattern,
    MatchSwiGLUPattern,
)

TRANSFORMS = {
    "match_rmsnorm_pattern": MatchRMSNormPattern,
    "match_swiglu_pattern": MatchSwiGLUPattern,
    "eliminate_redundant_transposes": EliminateRedundantTransposes,
    "fuse_gemms": FuseGemms,
    "fuse_rmsnorm": FuseRMSNorm,
    "fuse_add_rms_norm": FuseAddRMSNorm,
    "fuse_swiglu": FuseSwiGLU,
}


def graph_mode_entries() -> dict[str, dict[str, Any]]:
    """This plugin's part of the ``graph`` preset, in AutoDeploy's order within each stage:
    fuse_swiglu before fuse_gemms (so gate/up go into the SwiGLU product, q/k/v into fuse_gemms),
    the add+norm join before the kernel choice."""
    return {
        "match_rmsnorm_pattern": {"stage": "pattern_matcher"},
        "eliminate_redundant_transposes": {"stage": "pattern_matcher"},
        "match_swiglu_pattern": {"stage": "pattern_matcher"},
        "fuse_swiglu": {"stage": "post_load_fusion", "backend": "torch", "expect_mem_change": True},
        "fuse_gemms": {"stage": "post_load_fusion", "expect_mem_change": True},
        "fuse_add_rms_norm": {"stage": "post_load_fusion", "backend": "aten"},
        "fuse_rmsnorm": {"stage": "post_load_fusion", "rmsnorm_backend": "aten"},
    }


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    for key, transform in TRANSFORMS.items():
        register(key, transform)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("graph", graph_mode_entries())
