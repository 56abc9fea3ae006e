"""Remove pairs of transposes (or permutes) that undo each other: ``x.transpose(1, 2).transpose(1, 2)``.

Layout changes around canonical ops (attention in ``bsnd``, RoPE) often leave such pairs. A
``contiguous`` between the two is kept as ``x.contiguous()`` (the memory layout it promised).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from autodeploy.graph import node_arg

from .graph_nodes import is_call, readers

if TYPE_CHECKING:
    from torch import fx

_TRANSPOSE = "aten.transpose.int"
_PERMUTE = "aten.permute.default"
_CONTIGUOUS = "aten.contiguous.default"


def _permutation(node: fx.Node, rank: Optional[int]) -> Optional[list[int]]:
    """The permutation a transpose/permute node applies, with non-negative dims."""
    if is_call(node, _PERMUTE):
        dims = _ints(node.args[1])
        if dims is None:
            return None
        rank = len(dims)
        return [d % rank for d in dims]
    if is_call(node, _TRANSPOSE):
        pair = _ints(node.args[1:3])
        if rank is None or pair is None or len(pair) != 2:
            return None
        a, b = pair[0] % rank, pair[1] % rank
        perm = list(range(rank))
        perm[a], perm[b] = perm[b], perm[a]
        return perm
    return None


def _ints(value: Any) -> Optional[list[int]]:
    """`value` as a list of ints if it is a list or tuple of plain ints (dims), else None."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        return None
    return list(value)


def _rank(node: Any) -> Optional[int]:
    value = getattr(node, "meta", {}).get("val")
    return value.dim() if value is not None and hasattr(value, "dim") else None


def remove_redundant_transposes(gm: fx.GraphModule) -> int:
    """Replace each transpose-of-a-transpose that is the identity by its source; returns how many."""
    import torch

    count = 0
    for node in list(gm.graph.nodes):
        if not (is_call(node, _TRANSPOSE) or is_call(node, _PERMUTE)):
            continue
        inner = node.args[0]
        contiguous = None
        if is_call(inner, _CONTIGUOUS) and len(readers(inner)) == 1:
            contiguous, inner = inner, inner.args[0]
        if not (is_call(inner, _TRANSPOSE) or is_call(inner, _PERMUTE)):
            continue
        dims = _ints(inner.args[1]) if is_call(inner, _PERMUTE) else None
        rank = _rank(inner.args[0]) or (len(dims) if dims is not None else None)
        first, second = _permutation(inner, rank), _permutation(node, rank)
        if first is None or second is None or len(first) != len(second):
            continue
        if [first[i] for i in second] != list(range(len(first))):
            continue
        source = node_arg(inner, 0)
        if source is None:
            continue
        replacement = source
        if contiguous is not None:
            with gm.graph.inserting_before(node):
                replacement = gm.graph.call_function(torch.ops.aten.contiguous.default, (source,))
            if "val" in node.meta:
                replacement.meta["val"] = node.meta["val"]
        node.replace_all_uses_with(replacement)
        gm.graph.erase_node(node)
        for dead in (contiguous, inner):
            if dead is not None and not dead.users:
                gm.graph.erase_node(dead)
        count += 1
    if count:
        gm.graph.lint()
        gm.recompile()
    return count
