"""``match_eager_attention``: attention written out in plain ops, as one canonical op.

What transformers' ``eager_attention_forward`` (and GPT-2's) exports, read from the softmax::

    scores = matmul(q, transpose(k, -2, -1))        # or bmm
    scores = scores * scale                         # or / sqrt(d); optional
    scores = tanh(scores / cap) * cap               # logit soft-capping; optional
    scores = scores + mask                          # optional
    probs  = softmax(scores, -1)                    # then optional casts and (eval) dropout
    out    = matmul(probs, v)

becomes ``autodeploy::torch_attention_sdpa(q, k, v, ..., scale, ..., logit_cap)``.
"""

from __future__ import annotations

from typing import Any, Optional

from torch import fx

from .attention_args import insert_attention_sdpa
from .graph_utils import aten, is_op, real_users

_PASS_THROUGH = (aten.to, aten._to_copy, aten.dropout, aten.clone, aten.type_as, aten.contiguous)


def _is_last_two_swap(node: Any) -> bool:
    if is_op(node, aten.transpose):
        dims = {d % 4 if isinstance(d, int) else d for d in node.args[1:3]}
        return dims == {2, 3}
    if is_op(node, aten.permute):
        return list(node.args[1]) in ([0, 1, 3, 2], [0, 1, -1, -2])
    return False


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _read_scores(scores: Any) -> Optional[tuple[fx.Node, fx.Node, Any, float, Optional[float]]]:
    """From the softmax input up to ``q @ k^T``: (q, k, mask, scale, logit_cap), or None."""
    mask, scale, cap = None, 1.0, None
    node = scores
    while True:
        if is_op(node, aten.add) and mask is None and isinstance(node.args[1], fx.Node):
            node, mask = node.args[0], node.args[1]
        elif is_op(node, aten.mul) and is_op(node.args[0], aten.tanh) and cap is None and scale == 1.0:
            outer, inner = _number(node.args[1]), node.args[0].args[0]
            if outer is None or not is_op(inner, aten.div) or _number(inner.args[1]) != outer:
                return None
            node, cap = inner.args[0], outer
        elif is_op(node, aten.mul) and (factor := _number(node.args[1])) is not None:
            node, scale = node.args[0], scale * factor
        elif is_op(node, aten.div) and (divisor := _number(node.args[1])):
            node, scale = node.args[0], scale / divisor
        elif is_op(node, aten.to, aten._to_copy):
            node = node.args[0]
        elif is_op(node, aten.matmul, aten.bmm):
            q, k_t = node.args[0], node.args[1]
            if not _is_last_two_swap(k_t):
                return None
            return q, k_t.args[0], mask, scale, cap
        else:
            return None


def _read_output(softmax: fx.Node) -> Optional[tuple[fx.Node, fx.Node]]:
    """From the softmax down to ``probs @ v``: (the matmul, v), or None."""
    node = softmax
    while True:
        users = real_users(node)
        if len(users) != 1:
            return None
        user = users[0]
        if is_op(user, *_PASS_THROUGH) and user.args[0] is node:
            node = user
        elif is_op(user, aten.matmul, aten.bmm) and user.args[0] is node and isinstance(user.args[1], fx.Node):
            return user, user.args[1]
        else:
            return None


def match_eager_attention(gm: fx.GraphModule) -> int:
    matches = 0
    for node in list(gm.graph.nodes):
        if not is_op(node, aten.softmax, aten._softmax) or node.args[1] not in (-1, 3):
            continue
        scores = _read_scores(node.args[0])
        output = _read_output(node)
        if scores is None or output is None:
            continue
        q, k, mask, scale, cap = scores
        matmul, v = output
        insert_attention_sdpa(gm, matmul, q, k, v, mask, False, scale, cap)
        matches += 1
    return matches
