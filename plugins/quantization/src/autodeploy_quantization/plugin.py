"""Entry point of autodeploy-plugin-quantization: the int8 and 4-bit transforms, both in the
``graph`` preset but disabled (quantization changes the numbers: a user opts in, e.g.
``--set transforms.quantize_int8_linear.enabled=true``).

Torch-free: the transform classes are defined without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

from .transforms import QuantizeGGUFLinearFromConfig, QuantizeInt4Linear, QuantizeInt8Linear


def graph_mode_entries() -> dict[str, dict[str, Any]]:
    return {
        # before the weights load: a GGUF file's quantised tensors load into quantised linears
        "quantize_gguf_linear_from_config": {"stage": "pattern_matcher", "enabled": False},
        "quantize_int8_linear": {"stage": "post_load_fusion", "enabled": False, "expect_mem_change": True},
        "quantize_int4_linear": {"stage": "post_load_fusion", "enabled": False, "expect_mem_change": True},
    }


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    register("quantize_int8_linear", QuantizeInt8Linear)
    register("quantize_int4_linear", QuantizeInt4Linear)
    register("quantize_gguf_linear_from_config", QuantizeGGUFLinearFromConfig)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("graph", graph_mode_entries())
