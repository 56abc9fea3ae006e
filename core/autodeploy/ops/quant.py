"""Weight-only quantized linear ops: ``autodeploy::int8_weight_linear`` and ``int4_weight_linear``.

int8 (``int8_weight_linear``): an ``int8 [out, in]`` weight with one float32 scale per output
channel (``w ~ q * scale``). Kernels (`INT8_BACKENDS`), chosen per node by the quantization
transform:

- ``int8pack`` (default): ``aten._weight_int8pack_mm`` (int8 weights, float activations; float32
  activations on CPU run in bfloat16, see `kernel_dtype`).
- ``fbgemm``: torch's dynamic quantized linear (``quantized::linear_dynamic``: the activations are
  quantized per call, the product runs in int8 with fbgemm's packed weights). The packed form is
  made once per weight and kept in a cache keyed by the weight's storage, so the graph keeps a
  plain int8 tensor (state dicts, sharding and fake tensors see an ordinary buffer). Its
  per-tensor 8-bit activations lose too much on models with activation outliers (SmolLM2-135M:
  +39% mean NLL on a test paragraph, against -0.1% for ``int8pack``), so it is opt-in.
- ``dequant``: the reference: ``linear(x, q * scale)``, a float copy of the weight per call.

4-bit (``int4_weight_linear``): group-wise, asymmetric (``w ~ (q - 8) * scale + zero`` per group of
``group_size`` input channels, ``q`` in 0..15), stored in the packed layout of
``aten._weight_int4pack_mm_for_cpu`` (``[out, in / 2]`` uint8) with ``scales_and_zeros`` of shape
``[in / group_size, out, 2]``. GGUF's Q4_0 and Q4_1 blocks map onto it exactly (group 32).

Importing this module registers the ops.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Optional

import torch
import torch.nn.functional as F

INT8_BACKENDS = ("fbgemm", "int8pack", "dequant")
INT4_BACKENDS = ("int4pack", "dequant")

_PACKED: dict[tuple[int, int], Any] = {}
_PACKED_LOCK = threading.Lock()


def quantize_int8_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8: ``(q [out, in] int8, scale [out] float32)``."""
    w = weight.detach().to(torch.float32)
    scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.to(torch.float32) * scale[:, None].to(torch.float32)


def kernel_dtype(x: torch.Tensor) -> torch.dtype:
    """The activations' dtype the int8pack / int4pack kernels run in: bfloat16 for float32 on CPU.

    Measured (torch 2.13, this machine's CPU, one token of SmolLM2's products, 1 thread):
    ``_weight_int8pack_mm`` takes ~1100 ms with float32 activations and ~5-8 ms with bfloat16
    ones (casts included); ``_weight_int4pack_mm_for_cpu`` ~440 ms against ~7 ms. float32 has no
    vectorised path in either kernel. The products then carry bfloat16's rounding of the
    activations (about 0.4% each), within the weights' own int8 / 4-bit rounding.
    """
    if x.dtype == torch.float32 and x.device.type == "cpu":
        return torch.bfloat16
    return x.dtype


def int4_scales_dtype(dtype: torch.dtype, device: Any = "cpu") -> torch.dtype:
    """The dtype to store 4-bit scales and zeros in for a model of `dtype`: the kernel's (see `kernel_dtype`)."""
    if dtype == torch.float32 and torch.device(device).type == "cpu":
        return torch.bfloat16
    return dtype


def _fbgemm_packed(weight: torch.Tensor, scale: torch.Tensor) -> Any:
    """fbgemm's packed form of (weight, scale), made once per weight storage."""
    key = (weight.untyped_storage().data_ptr(), scale.untyped_storage().data_ptr())
    packed = _PACKED.get(key)
    if packed is not None:
        return packed
    with _PACKED_LOCK:
        packed = _PACKED.get(key)
        if packed is None:
            zero_points = torch.zeros(scale.shape, dtype=torch.long)
            qweight = torch._make_per_channel_quantized_tensor(weight, scale.to(torch.float64), zero_points, 0)
            packed = torch.ops.quantized.linear_prepack(qweight, None)
            _PACKED[key] = packed
            weakref.finalize(weight, _PACKED.pop, key, None)
    return packed


def _int8_linear(
    x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor, bias: Optional[torch.Tensor], backend: str
) -> torch.Tensor:
    if backend == "fbgemm" and x.device.type == "cpu":
        flat = x.reshape(-1, x.shape[-1]).to(torch.float32)
        out = torch.ops.quantized.linear_dynamic(flat, _fbgemm_packed(weight, scale), True)
        out = out.reshape(*x.shape[:-1], weight.shape[0]).to(x.dtype)
        return out + bias.to(x.dtype) if bias is not None else out
    if backend == "int8pack" or (backend == "fbgemm" and x.device.type != "cpu"):
        compute = kernel_dtype(x)
        flat = x.reshape(-1, x.shape[-1]).to(compute)
        out = torch.ops.aten._weight_int8pack_mm(flat, weight, scale.to(compute))
        out = out.reshape(*x.shape[:-1], weight.shape[0]).to(x.dtype)
        return out + bias.to(x.dtype) if bias is not None else out
    if backend == "dequant":
        return F.linear(x, dequantize_int8(weight, scale).to(x.dtype), None if bias is None else bias.to(x.dtype))
    raise ValueError(f"unknown int8 backend {backend!r}; known: {', '.join(INT8_BACKENDS)}")


@torch.library.custom_op("autodeploy::int8_weight_linear", mutates_args=())
def int8_weight_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    backend: str = "int8pack",
) -> torch.Tensor:
    """``linear(x, weight * scale[:, None], bias)`` with an int8 weight and per-channel scales."""
    return _int8_linear(x, weight, scale, bias, backend)


@int8_weight_linear.register_fake
def _int8_weight_linear_fake(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    backend: str = "int8pack",
) -> torch.Tensor:
    return x.new_empty((*x.shape[:-1], weight.shape[0]))


# -- 4-bit ----------------------------------------------------------------------------------------

INT4_INNER_K_TILES = 2


def quantize_int4_groupwise(weight: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric group-wise 4-bit: ``(q [out, in] int32 in 0..15, scale [out, groups], zero [out, groups])``
    with ``w ~ (q - 8) * scale + zero``."""
    out_features, in_features = weight.shape
    if in_features % group_size:
        raise ValueError(f"in_features {in_features} is not a multiple of group_size {group_size}")
    w = weight.detach().to(torch.float32).reshape(out_features, -1, group_size)
    low, high = w.amin(dim=-1), w.amax(dim=-1)
    scale = ((high - low) / 15.0).clamp(min=1e-8)
    q = torch.round((w - low[..., None]) / scale[..., None]).clamp(0, 15)
    zero = low + 8.0 * scale
    return q.reshape(out_features, in_features).to(torch.int32), scale, zero


def pack_int4(
    q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The int4pack layout: ``(packed [out, in / 2] uint8, scales_and_zeros [groups, out, 2] of dtype)``."""
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.to(torch.int32).contiguous(), INT4_INNER_K_TILES)
    scales_and_zeros = torch.stack([scale.t(), zero.t()], dim=-1).to(dtype).contiguous()
    return packed, scales_and_zeros


def dequantize_int4(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    out_features, in_features = q.shape
    groups = scale.shape[1]
    w = (q.to(torch.float32).reshape(out_features, groups, -1) - 8.0) * scale[..., None] + zero[..., None]
    return w.reshape(out_features, in_features)


def _unpack_int4(packed: torch.Tensor, scales_and_zeros: torch.Tensor, group_size: int) -> torch.Tensor:
    """The float weight back from the int4pack layout (through an identity product)."""
    in_features = scales_and_zeros.shape[0] * group_size
    eye = torch.eye(in_features, dtype=scales_and_zeros.dtype, device=packed.device)
    return torch.ops.aten._weight_int4pack_mm_for_cpu(eye, packed, group_size, scales_and_zeros).t()


@torch.library.custom_op("autodeploy::int4_weight_linear", mutates_args=())
def int4_weight_linear(
    x: torch.Tensor,
    packed_weight: torch.Tensor,
    scales_and_zeros: torch.Tensor,
    group_size: int,
    bias: Optional[torch.Tensor] = None,
    backend: str = "int4pack",
) -> torch.Tensor:
    """``linear(x, w, bias)`` with `w` stored group-wise in 4 bits (int4pack layout)."""
    out_features = scales_and_zeros.shape[1]
    if backend == "int4pack":
        compute = kernel_dtype(x) if scales_and_zeros.dtype == torch.float32 else scales_and_zeros.dtype
        flat = x.reshape(-1, x.shape[-1]).to(compute)
        out = torch.ops.aten._weight_int4pack_mm_for_cpu(flat, packed_weight, group_size, scales_and_zeros.to(compute))
        out = out.reshape(*x.shape[:-1], out_features).to(x.dtype)
    elif backend == "dequant":
        weight = _unpack_int4(packed_weight, scales_and_zeros, group_size).to(x.dtype)
        out = F.linear(x, weight)
    else:
        raise ValueError(f"unknown int4 backend {backend!r}; known: {', '.join(INT4_BACKENDS)}")
    return out + bias.to(out.dtype) if bias is not None else out


@int4_weight_linear.register_fake
def _int4_weight_linear_fake(
    x: torch.Tensor,
    packed_weight: torch.Tensor,
    scales_and_zeros: torch.Tensor,
    group_size: int,
    bias: Optional[torch.Tensor] = None,
    backend: str = "int4pack",
) -> torch.Tensor:
    return x.new_empty((*x.shape[:-1], scales_and_zeros.shape[1]))


__all__ = [
    "INT4_BACKENDS",
    "int4_scales_dtype",
    "kernel_dtype",
    "INT8_BACKENDS",
    "dequantize_int4",
    "dequantize_int8",
    "int4_weight_linear",
    "int8_weight_linear",
    "pack_int4",
    "quantize_int4_groupwise",
    "quantize_int8_per_channel",
]
