"""Entry point of autodeploy-plugin-kv-cache (group ``autodeploy.transforms``).

Registers the cache_init transforms, the first-party ``torch`` attention backend, and the
transforms' place in the ``graph`` and ``transformers`` presets (AutoDeploy's order). Disable
them (``enabled: false``) to run a pipeline uncached. Torch-free at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import AttentionBackend, hookimpl

from .torch_backend import TorchAttentionBackend
from .transforms import (
    DetectHFAttnLayers,
    InitializeCache,
    InsertCachedAttention,
    ResizeKVCache,
    TransformersReplaceCachedAttn,
)

TRANSFORMS = {
    "insert_cached_attention": InsertCachedAttention,
    "initialize_cache": InitializeCache,
    "resize_kv_cache": ResizeKVCache,
    "detect_hf_attn_layers": DetectHFAttnLayers,
    "transformers_replace_cached_attn": TransformersReplaceCachedAttn,
}

_WHOLE_MODEL = {"stage": "cache_init", "run_per_gm": False}


def graph_mode_entries() -> dict[str, dict[str, Any]]:
    return {
        "insert_cached_attention": {**_WHOLE_MODEL, "backend": "torch"},
        "initialize_cache": {**_WHOLE_MODEL, "expect_mem_change": True},
        "resize_kv_cache": {**_WHOLE_MODEL, "expect_mem_change": True, "free_mem_ratio": 0.8},
    }


def transformers_mode_entries() -> dict[str, dict[str, Any]]:
    return {
        "detect_hf_attn_layers": dict(_WHOLE_MODEL),
        "transformers_replace_cached_attn": {**_WHOLE_MODEL, "backend": "torch"},
        "initialize_cache": {**_WHOLE_MODEL, "expect_mem_change": True},
        "resize_kv_cache": {**_WHOLE_MODEL, "expect_mem_change": True, "free_mem_ratio": 0.8},
    }


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    for key, transform in TRANSFORMS.items():
        register(key, transform)


@hookimpl
def autodeploy_register_attention_backends(register: Callable[[str, AttentionBackend], None]) -> None:
    register("torch", TorchAttentionBackend())


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("graph", graph_mode_entries())
    register("transformers", transformers_mode_entries())
