"""Remove additions of zero: ``x + 0`` (``aten.add.Tensor(x, 0)``) or ``x + torch.zeros(...)``.

Adding zero can still change a tensor's type: ``int_tensor + 0.0`` is a float tensor and
``x + torch.zeros(4, 1)`` broadcasts ``x`` to a bigger shape. An addition is dropped only when
the recorded values of ``x`` and the sum agree in shape, dtype and device. What is a zero: the
number 0 (any alpha), or a node that makes a tensor of zeros (``zeros``, ``zeros_like``,
``new_zeros``, ``full``/``full_like``/``new_full``/``scalar_tensor`` with a fill of 0).
Registered buffers that happen to hold zeros are *not* zeros here: weights may be loaded later.

One numerical difference: ``-0.0 + 0`` is ``+0.0``; after the cleanup a ``-0.0`` stays ``-0.0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from .node_values import replacing_would_expose_state_or_input, same_tensor_type

if TYPE_CHECKING:
    from torch import fx


def remove_noop_adds(gm: fx.GraphModule) -> int:
    """Replace every addition of zero in `gm` by the other operand; returns how many."""
    import torch

    removed = 0
    for target in (torch.ops.aten.add.Tensor, torch.ops.aten.add.Scalar):
        for node in list(gm.graph.find_nodes(op="call_function", target=target)):
            kept = _operand_kept(node)
            if kept is None or not same_tensor_type(node, kept):
                continue
            if replacing_would_expose_state_or_input(node, kept):
                continue
            node.replace_all_uses_with(kept)
            gm.graph.erase_node(node)
            removed += 1
    if removed:
        gm.graph.eliminate_dead_code()  # the zeros tensors nobody reads any more
        gm.graph.lint()
        gm.recompile()
    return removed


def _operand_kept(node: fx.Node) -> Optional[fx.Node]:
    """The operand that survives ``self + alpha * other`` when the other one is zero."""
    from torch import fx

    self_arg = node.args[0] if node.args else node.kwargs.get("self")
    other = node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    alpha = node.args[2] if len(node.args) > 2 else node.kwargs.get("alpha", 1)
    if isinstance(self_arg, fx.Node) and _is_zero(other):
        return self_arg
    if isinstance(other, fx.Node) and _is_zero(self_arg) and alpha == 1:
        return other
    return None


_ZEROS_TARGET_NAMES = ("aten.zeros.default", "aten.zeros_like.default", "aten.new_zeros.default")
# op name -> position of the fill value among the node's arguments
_FULL_TARGET_FILL = {
    "aten.full.default": 1,
    "aten.full_like.default": 1,
    "aten.new_full.default": 2,
    "aten.scalar_tensor.default": 0,
}


def _is_zero(value: Any) -> bool:
    from torch import fx

    if isinstance(value, (bool, int, float)):
        return value == 0
    if not isinstance(value, fx.Node) or value.op != "call_function":
        return False
    name = str(value.target)
    if name in _ZEROS_TARGET_NAMES:
        return True
    if name in _FULL_TARGET_FILL:
        position = _FULL_TARGET_FILL[name]
        fill = (
            value.args[position]
            if len(value.args) > position
            else value.kwargs.get("fill_value", value.kwargs.get("s"))
        )
        return isinstance(fill, (bool, int, float)) and fill == 0
    return False
