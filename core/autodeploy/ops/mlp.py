"""Gated-MLP ops: ``autodeploy::torch_swiglu_mlp`` and ``autodeploy::silu_and_mul``.

`torch_swiglu_mlp` is what ``match_swiglu_pattern`` turns model code into:
``down(silu(gate(x)) * up(x))`` with optional biases. ``fuse_swiglu`` then lowers it, once the
weights are loaded, into one product with the gate and up weights concatenated
(``linear(x, [gate; up])``), `silu_and_mul` on its output, and the down product: two matrix
products instead of three, and plain ``aten.linear`` nodes that the quantization transforms and
the sharding can still see.

Importing this module registers the ops.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


@torch.library.custom_op("autodeploy::torch_swiglu_mlp", mutates_args=())
def torch_swiglu_mlp(
    x: torch.Tensor,
    gate_weight: torch.Tensor,
    up_weight: torch.Tensor,
    down_weight: torch.Tensor,
    gate_bias: Optional[torch.Tensor] = None,
    up_bias: Optional[torch.Tensor] = None,
    down_bias: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``down(silu(gate(x)) * up(x))``, the SwiGLU MLP of Llama-family decoders."""
    hidden = F.silu(F.linear(x, gate_weight, gate_bias)) * F.linear(x, up_weight, up_bias)
    return F.linear(hidden, down_weight, down_bias)


@torch_swiglu_mlp.register_fake
def _torch_swiglu_mlp_fake(
    x: torch.Tensor,
    gate_weight: torch.Tensor,
    up_weight: torch.Tensor,
    down_weight: torch.Tensor,
    gate_bias: Optional[torch.Tensor] = None,
    up_bias: Optional[torch.Tensor] = None,
    down_bias: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    return x.new_empty((*x.shape[:-1], down_weight.shape[0]), dtype=torch.promote_types(x.dtype, down_weight.dtype))


@torch.library.custom_op("autodeploy::silu_and_mul", mutates_args=())
def silu_and_mul(gate_up: torch.Tensor) -> torch.Tensor:
    """``silu(gate) * up`` where `gate_up` holds gate then up along its last dimension."""
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate) * up


@silu_and_mul.register_fake
def _silu_and_mul_fake(gate_up: torch.Tensor) -> torch.Tensor:
    return gate_up.new_empty((*gate_up.shape[:-1], gate_up.shape[-1] // 2))


__all__ = ["silu_and_mul", "torch_swiglu_mlp"]
