"""Remove slices that keep a whole dimension: ``x[:, :]`` exports as
``aten.slice.Tensor(x, dim, 0, 9223372036854775807, 1)``, a view equal to ``x``.

A slice is a no-op when it starts at 0 (or None), steps by 1, and ends at None, at INT64_MAX
(torch's "to the end"), at a static size it reaches, or at a size recorded as the same as the
sliced dimension's (e.g. ``y[: x.shape[0]]`` where export proved both sizes equal). Its uses
then read ``x`` directly.

torch (2.13 at least) already rewrites a whole slice it can *prove* whole into
``aten.alias.default(x)``, which happens when every dimension is static or bounded, as in our
exports; slices to INT64_MAX remain where a dimension is unbounded. Those aliases are the same
no-op in another form and are removed here too (and counted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .node_values import recorded_value, same_size, same_tensor_type

if TYPE_CHECKING:
    from torch import fx

INT64_MAX = 2**63 - 1
_SLICE_DEFAULTS = (0, None, None, 1)  # dim, start, end, step after `self`


def remove_noop_slices(gm: fx.GraphModule) -> int:
    """Replace every no-op ``aten.slice.Tensor`` (and ``aten.alias``) in `gm` by its input; returns how many."""
    import torch
    from torch import fx

    removed = 0
    candidates = [
        *gm.graph.find_nodes(op="call_function", target=torch.ops.aten.slice.Tensor),
        *gm.graph.find_nodes(op="call_function", target=torch.ops.aten.alias.default),
    ]
    for node in candidates:
        source = node.args[0] if node.args else None
        if not isinstance(source, fx.Node):
            continue
        if node.target is torch.ops.aten.slice.Tensor and not _is_noop_slice(source, *_slice_arguments(node)):
            continue
        if recorded_value(node) is not None and not same_tensor_type(node, source):
            continue  # recorded shapes disagree: trust them over our reading of the arguments
        node.replace_all_uses_with(source)
        gm.graph.erase_node(node)
        removed += 1
    if removed:
        gm.graph.lint()
        gm.recompile()
    return removed


def _slice_arguments(node: fx.Node) -> tuple[Any, Any, Any, Any]:
    names = ("dim", "start", "end", "step")
    values = list(node.args[1:]) + list(_SLICE_DEFAULTS[len(node.args) - 1 :])
    return tuple(node.kwargs.get(name, value) for name, value in zip(names, values, strict=False))  # type: ignore[return-value]


def _is_noop_slice(source: fx.Node, dim: Any, start: Any, end: Any, step: Any) -> bool:
    value = recorded_value(source)
    if value is None or not isinstance(dim, int):
        return False
    dim = dim + value.dim() if dim < 0 else dim
    if not 0 <= dim < value.dim():
        return False
    if start not in (0, None) or step != 1:
        return False
    if end is None or (isinstance(end, int) and end >= INT64_MAX):
        return True
    size = value.shape[dim]
    if isinstance(end, int):
        return isinstance(size, int) and end >= size
    return _ends_at_size(end, size)


def _ends_at_size(end: Any, size: Any) -> bool:
    """Whether `end` is a node whose recorded value is the sliced dimension's size."""
    from torch import fx

    if not isinstance(end, fx.Node):
        return False
    recorded = end.meta.get("val")
    if isinstance(recorded, int) and isinstance(size, int):
        return recorded >= size
    return recorded is not None and same_size(recorded, size)
