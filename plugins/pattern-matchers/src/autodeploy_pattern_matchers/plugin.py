"""Entry point of autodeploy-plugin-pattern-matchers (group ``autodeploy.transforms``).

Registers the attention matchers and contributes them to the ``graph`` mode in AutoDeploy's
order. Torch-free at import: it is loaded whenever transforms are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

from .transforms import (
    MatchAttentionLayout,
    MatchEagerAttention,
    MatchGroupedAttention,
    MatchRepeatKV,
    MatchSDPAToTorchAttention,
)

TRANSFORMS = {
    "match_repeat_kv": MatchRepeatKV,
    "match_eager_attention": MatchEagerAttention,
    "match_sdpa_to_torch_attention": MatchSDPAToTorchAttention,
    "match_grouped_attention": MatchGroupedAttention,
    "match_attention_layout": MatchAttentionLayout,
}


def graph_mode_entries() -> dict[str, dict[str, Any]]:
    """This plugin's part of the ``graph`` preset, in AutoDeploy's order."""
    return {key: {"stage": "pattern_matcher"} for key in TRANSFORMS}


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    for key, transform in TRANSFORMS.items():
        register(key, transform)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("graph", graph_mode_entries())
