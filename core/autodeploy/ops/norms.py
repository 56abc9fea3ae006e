"""RMSNorm ops: ``autodeploy::torch_rmsnorm`` and the residual-add variant ``fused_add_rms_norm``.

`torch_rmsnorm` is what ``match_rmsnorm_pattern`` turns model code into. Its numerics follow
Hugging Face's Llama (and AutoDeploy's op): the statistics are taken in float32, the normalised
value is cast back to the input's dtype, then scaled by the weight. Gemma's ``(1 + weight)`` form is
the same op with that sum as its weight.

`fused_add_rms_norm` is ``residual = x + residual; (rmsnorm(residual), residual)`` in one op: the
fusion of a decoder's residual add with the next norm (``fuse_add_rms_norm``).

Backends: ``torch`` (the reference, eager aten calls) and ``aten`` (``aten.rms_norm``, one fused
kernel on CPU, measured faster; see `RMSNORM_BACKENDS`). Importing this module registers the ops.
"""

from __future__ import annotations

import torch

RMSNORM_BACKENDS = ("torch", "aten")
"""``torch``: pow/mean/rsqrt/mul in float32 (the reference); ``aten``: one ``aten.rms_norm`` call."""


def rmsnorm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """The reference computation (float32 statistics, cast back, then the weight)."""
    hidden = x.to(torch.float32)
    hidden = hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + eps)
    return weight * hidden.to(x.dtype)


def rmsnorm_aten(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """One ``aten.rms_norm`` kernel; computed in float32 when `x` is narrower, like the reference."""
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return torch.rms_norm(x, (x.shape[-1],), weight, eps)
    normed = torch.rms_norm(x.to(torch.float32), (x.shape[-1],), None, eps).to(x.dtype)
    return weight * normed


def _run(x: torch.Tensor, weight: torch.Tensor, eps: float, backend: str) -> torch.Tensor:
    if backend == "aten":
        return rmsnorm_aten(x, weight, eps)
    if backend == "torch":
        return rmsnorm_reference(x, weight, eps)
    raise ValueError(f"unknown rmsnorm backend {backend!r}; known: {', '.join(RMSNORM_BACKENDS)}")


def _result_dtype(x: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    return torch.promote_types(x.dtype, weight.dtype)


@torch.library.custom_op("autodeploy::torch_rmsnorm", mutates_args=())
def torch_rmsnorm(x: torch.Tensor, weight: torch.Tensor, eps: float, backend: str = "torch") -> torch.Tensor:
    """RMSNorm over the last dimension (float32 statistics), scaled by `weight`."""
    return _run(x, weight, eps, backend)


@torch_rmsnorm.register_fake
def _torch_rmsnorm_fake(x: torch.Tensor, weight: torch.Tensor, eps: float, backend: str = "torch") -> torch.Tensor:
    return x.new_empty(x.shape, dtype=_result_dtype(x, weight))


@torch.library.custom_op("autodeploy::fused_add_rms_norm", mutates_args=())
def fused_add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float, backend: str = "torch"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``added = x + residual``; returns ``(rmsnorm(added), added)``."""
    added = x + residual
    return _run(added, weight, eps, backend), added


@fused_add_rms_norm.register_fake
def _fused_add_rms_norm_fake(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float, backend: str = "torch"
) -> tuple[torch.Tensor, torch.Tensor]:
    added_dtype = torch.promote_types(x.dtype, residual.dtype)
    shape = torch.broadcast_shapes(x.shape, residual.shape)
    return x.new_empty(shape, dtype=torch.promote_types(added_dtype, weight.dtype)), x.new_empty(
        shape, dtype=added_dtype
    )


def rmsnorm_op() -> torch._ops.OpOverload:
    """The default overload of ``autodeploy::torch_rmsnorm`` (what graphs call)."""
    return torch.ops.autodeploy.torch_rmsnorm.default


def fused_add_rms_norm_op() -> torch._ops.OpOverload:
    return torch.ops.autodeploy.fused_add_rms_norm.default


__all__ = [
    "RMSNORM_BACKENDS",
    "fused_add_rms_norm",
    "fused_add_rms_norm_op",
    "rmsnorm_aten",
    "rmsnorm_op",
    "rmsnorm_reference",
    "torch_rmsnorm",
]
