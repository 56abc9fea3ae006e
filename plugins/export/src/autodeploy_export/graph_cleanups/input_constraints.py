"""Widening the upper bounds of an exported graph's dynamic input dims (``cleanup_input_constraints``).

torch.export records a range for each dynamic dim (``range_constraints``), and the unlifted
GraphModule checks every call's inputs against it. The bounds export saw (batch up to
``max_batch_size``, sequence up to ``max_seq_len`` or the token budget) are a heuristic, not a
limit of the graph: a later step that packs the tokens of several sequences into one row may go
beyond them. As AutoDeploy does, every dynamic dim of the sequence input gets the upper bound
``product of the dims' upper bounds * 1000``, so that the check never refuses a legal step.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import fx
from torch.utils._sympy.value_ranges import ValueRanges

SEQUENCE_INPUT_NAMES = ("input_ids", "inputs_embeds")
"""The graph inputs that carry the sequence, in order of preference (AutoDeploy's)."""

HEADROOM = 1000


def sequence_input(gm: fx.GraphModule) -> fx.Node | None:
    """The placeholder of the sequence input (by name), or None."""
    placeholders = {node.target: node for node in gm.graph.find_nodes(op="placeholder")}
    for name in SEQUENCE_INPUT_NAMES:
        if name in placeholders:
            return placeholders[name]
    return None


def widen_input_constraints(gm: fx.GraphModule) -> int:
    """Widen the ranges of the sequence input's dynamic dims in place; returns how many were widened."""
    ranges = getattr(gm, "range_constraints", None)
    node = sequence_input(gm)
    value = node.meta.get("val") if node is not None else None
    if not isinstance(ranges, dict) or not isinstance(value, torch.Tensor):
        return 0
    uppers: list[int] = []
    symbols: list[Any] = []  # sympy expressions (sympy is untyped)
    for size in value.shape:
        if isinstance(size, torch.SymInt) and size.node.expr in ranges:
            symbols.append(size.node.expr)
            uppers.append(int(ranges[size.node.expr].upper))
        else:
            uppers.append(int(size))
    if not symbols:
        return 0
    widest = math.prod(uppers) * HEADROOM
    for symbol in dict.fromkeys(symbols):  # a symbol shared by two dims is widened once
        ranges[symbol] = ValueRanges(ranges[symbol].lower, widest)
    return len(symbols)
