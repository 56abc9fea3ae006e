"""``match_attention_layout``: attention in AutoDeploy's bsnd layout (``[batch, seq, heads, dim]``).

``torch_attention_sdpa`` (bnsd, the layout model code computes in) becomes
``transpose -> torch_attention -> transpose``. Transposes that undo each other (the model's own
``view(...).transpose(1, 2)`` before attention, ``transpose(1, 2)`` after it) are skipped, so
the bsnd op reads the projections' views directly.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import fx

from .graph_utils import aten, copy_meta, is_op


def _swaps_seq_and_heads(node: Any) -> bool:
    return is_op(node, aten.transpose) and {d % 4 for d in node.args[1:3]} == {1, 2}


def _to_bsnd(gm: fx.GraphModule, value: fx.Node, before: fx.Node) -> fx.Node:
    if _swaps_seq_and_heads(value):
        return cast(fx.Node, value.args[0])
    with gm.graph.inserting_before(before):
        return gm.graph.call_function(aten.transpose.int, (value, 1, 2))


def match_attention_layout(gm: fx.GraphModule) -> int:
    matches = 0
    for node in list(gm.graph.nodes):
        if not is_op(node, torch.ops.autodeploy.torch_attention_sdpa):
            continue
        q, k, v = (_to_bsnd(gm, value, node) for value in node.args[:3])
        with gm.graph.inserting_before(node):
            bsnd = gm.graph.call_function(torch.ops.autodeploy.torch_attention.default, (q, k, v, *node.args[3:]))
            back = gm.graph.call_function(aten.transpose.int, (bsnd, 1, 2))
        copy_meta(bsnd, node)
        copy_meta(back, node)
        node.replace_all_uses_with(back)
        for user in list(back.users):
            if _swaps_seq_and_heads(user):
                user.replace_all_uses_with(bsnd)
        matches += 1
    return matches
