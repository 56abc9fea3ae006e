"""The two weight formats: what `linear_rewrite.quantize_linears` stores and calls for each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def int8_maker(backend: str):
    """Per-channel int8 weights for ``autodeploy::int8_weight_linear`` with `backend`."""
    import torch

    from autodeploy.ops import quantize_int8_per_channel

    op = torch.ops.autodeploy.int8_weight_linear.default

    def make(weight: torch.Tensor):
        q, scale = quantize_int8_per_channel(weight)

        def args_of(x: Any, nodes: dict[str, Any], bias: Any) -> tuple[Any, ...]:
            return (x, nodes["q"], nodes["scale"], bias, backend)

        return {"q": q, "scale": scale}, op, args_of

    return make


def int4_maker(group_size: int, backend: str):
    """Group-wise 4-bit weights (int4pack layout) for ``autodeploy::int4_weight_linear``."""
    import torch

    from autodeploy.ops import int4_scales_dtype, pack_int4, quantize_int4_groupwise

    op = torch.ops.autodeploy.int4_weight_linear.default

    def make(weight: torch.Tensor):
        if weight.shape[1] % group_size:
            raise ValueError(
                f"a linear weight of shape {tuple(weight.shape)} cannot take group_size {group_size}: "
                "its input size is not a multiple of it (exclude it with exclude_modules, or pick another group_size)"
            )
        q, scale, zero = quantize_int4_groupwise(weight, group_size)
        # scales in the kernel's dtype (bf16 for an fp32 model on CPU: the kernel's fast path)
        packed, scales_and_zeros = pack_int4(q, scale, zero, int4_scales_dtype(weight.dtype, weight.device))

        def args_of(x: Any, nodes: dict[str, Any], bias: Any) -> tuple[Any, ...]:
            return (x, nodes["q4"], nodes["scales_zeros"], group_size, bias, backend)

        return {"q4": packed, "scales_zeros": scales_and_zeros}, op, args_of

    return make
