"""Attention the matchers could not rewrite: an error naming the first such layer.

Such a layer would run without a KV cache (its keys and values recomputed from nothing at each
step: wrong results, not just slow ones), so it must not pass silently. Attention that is left:
``scaled_dot_product_attention`` (or one of its kernels), the bnsd form not put in bsnd layout,
and a softmax over the product of two activations (written-out attention in a form the eager
matcher does not know).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import fx

from autodeploy import AutodeployError

from .graph_utils import aten, is_op, module_path

_SDPA_KERNELS = (
    aten.scaled_dot_product_attention,
    aten._scaled_dot_product_flash_attention_for_cpu,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_flash_attention,
)
_ELEMENTWISE = (aten.add, aten.sub, aten.mul, aten.div, aten.to, aten._to_copy, aten.tanh, aten.masked_fill, aten.where)


class UnmatchedAttentionError(AutodeployError):
    """An attention layer that the pattern matchers did not turn into a canonical op."""


def _is_activation(node: Any) -> bool:
    return isinstance(node, fx.Node) and node.op not in ("get_attr",)


def _softmax_over_scores(node: fx.Node) -> bool:
    """Whether a softmax reads (through elementwise ops) a product of two activations."""
    todo: list[Any] = [node.args[0]]
    seen: set[fx.Node] = set()
    while todo:
        value = todo.pop()
        if not isinstance(value, fx.Node) or value in seen or len(seen) > 32:
            continue
        seen.add(value)
        if is_op(value, aten.matmul, aten.bmm, aten.einsum):
            operands: Any = value.args[1] if is_op(value, aten.einsum) else value.args[:2]
            if all(_is_activation(operand) for operand in operands):
                return True
        elif is_op(value, *_ELEMENTWISE):
            todo.extend(value.all_input_nodes)
    return False


def _unmatched_kind(node: fx.Node) -> Optional[str]:
    if is_op(node, *_SDPA_KERNELS):
        return "scaled_dot_product_attention"
    if is_op(node, torch.ops.autodeploy.torch_attention_sdpa):
        return "attention in bnsd layout"
    if is_op(node, aten.softmax, aten._softmax) and _softmax_over_scores(node):
        return "softmax over q @ k^T"
    return None


def check_all_attention_matched(gm: fx.GraphModule) -> None:
    """Raise `UnmatchedAttentionError` naming the first attention left in `gm`."""
    matched = sum(1 for node in gm.graph.nodes if is_op(node, torch.ops.autodeploy.torch_attention))
    for node in gm.graph.nodes:
        kind = _unmatched_kind(node)
        if kind is not None:
            raise UnmatchedAttentionError(
                f"the attention at {module_path(node)} (graph node {node.name!r}: {kind}) was not matched by the "
                f"pattern matchers ({matched} attention layer(s) were); it would run without a KV cache. Write it "
                "with scaled_dot_product_attention or transformers' attention functions, or run the model uncached "
                "(disable the pattern_matcher and cache_init attention transforms)"
            )
