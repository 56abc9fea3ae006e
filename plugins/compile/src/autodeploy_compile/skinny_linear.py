"""Float32 linears of a few rows on the CPU, computed as ``weight @ x.T``.

A decode step multiplies each weight by one row per sequence. On the CPU, ``F.linear`` of a
float32 input with a handful of rows takes MKL's matrix-vector path, which reads the weight far
below the memory bandwidth; the same product written as ``weight @ x.T`` (the weight as the left,
tall operand) runs as a regular GEMM. Measured on 2 cores, SmolLM2-135M's 211 projections of one
token: 41-60 ms with ``F.linear`` against 19-35 ms as ``torch.mm(weight, x.T)``; its vocabulary
projection alone 11-12 ms against 3.3-5 ms. From 2 to 32 rows the GEMM form is 1.1-3.5x faster;
from ~128 rows ``F.linear`` is as fast or faster, so only short inputs take it. A single row is
duplicated first: a one-column GEMM (and a stride-0 expanded column) falls back to the slow path.

bfloat16 gains nothing (oneDNN already runs it near bandwidth), and CUDA has its own kernels, so
only float32 CPU weights are rewritten.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import fx

SKINNY_MAX_ROWS = 32
"""Inputs with at most this many rows (all dimensions but the last, multiplied) take the GEMM form."""


def skinny_linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, computed as ``weight @ x.T`` when `x` has few rows.

    The caller guarantees a float32 CPU `weight` (see `use_skinny_linears`); the number of rows is
    only known per call, so it is checked here.
    """
    features = x.shape[-1]
    rows = x.numel() // features if features else 0
    if rows == 0 or rows > SKINNY_MAX_ROWS:
        return F.linear(x, weight, bias)
    flat = x.reshape(rows, features)
    if rows == 1:
        flat = torch.cat((flat, flat))
    out = torch.mm(weight, flat.t())[:, :rows].t().contiguous()
    if bias is not None:
        out.add_(bias)
    return out.view(*x.shape[:-1], weight.shape[0])


def use_skinny_linears(gm: fx.GraphModule) -> int:
    """Point every ``aten.linear`` node of `gm` whose weight is a float32 CPU matrix held by the
    module at `skinny_linear`; returns how many changed (the caller recompiles)."""
    changed = 0
    for node in gm.graph.nodes:
        if node.op != "call_function" or node.target is not torch.ops.aten.linear.default:
            continue
        if len(node.args) < 2 or node.kwargs:
            continue
        weight = held_tensor(gm, node.args[1])
        if weight is None or weight.dtype != torch.float32 or weight.device.type != "cpu" or weight.dim() != 2:
            continue
        node.target = skinny_linear
        changed += 1
    return changed


def held_tensor(gm: fx.GraphModule, arg: Any) -> Optional[torch.Tensor]:
    """The tensor a ``get_attr`` node reads from `gm`, or None for anything else."""
    if not isinstance(arg, fx.Node) or arg.op != "get_attr":
        return None
    try:
        value = functools.reduce(getattr, str(arg.target).split("."), gm)
    except AttributeError:
        return None
    return value if isinstance(value, torch.Tensor) else None
