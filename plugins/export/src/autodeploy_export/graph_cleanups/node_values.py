"""What the cleanups may assume about a node's value: the fake tensor torch.export recorded.

Dropping a node ``y = f(x)`` in favour of ``x`` is safe only if ``y`` has the same shape, dtype
and device as ``x``; the recorded values (``node.meta["val"]``) say so without running the
graph. Symbolic sizes are compared by their expressions, never by evaluating them, so that no
guard is added to the export's shape environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from torch import fx


def recorded_value(node: Any) -> Optional[Any]:
    """The tensor value recorded on `node`, or None (not a node, or no tensor recorded)."""
    import torch
    from torch import fx

    if not isinstance(node, fx.Node):
        return None
    value = node.meta.get("val")
    return value if isinstance(value, torch.Tensor) else None


def same_size(a: Any, b: Any) -> bool:
    """Whether two sizes (ints or SymInts) are the same, without adding shape guards."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, int) or isinstance(b, int):
        return False
    return str(a) == str(b)


def same_tensor_type(a: fx.Node, b: fx.Node) -> bool:
    """Whether the recorded values of `a` and `b` agree in shape, dtype and device."""
    value_a, value_b = recorded_value(a), recorded_value(b)
    if value_a is None or value_b is None:
        return False
    if value_a.dtype != value_b.dtype or value_a.device != value_b.device or value_a.dim() != value_b.dim():
        return False
    return all(same_size(x, y) for x, y in zip(value_a.shape, value_b.shape, strict=True))


def feeds_output(node: fx.Node) -> bool:
    return any(user.op == "output" for user in node.users)


def replacing_would_expose_state_or_input(node: fx.Node, replacement: fx.Node) -> bool:
    """Whether replacing `node` by `replacement` would return a graph input or a parameter itself.

    ``y = x + 0`` returns a fresh tensor; returning ``x`` instead would hand the caller the
    input it passed, or a weight that a caller's in-place edit would corrupt. Keep such nodes.
    """
    return feeds_output(node) and replacement.op in ("placeholder", "get_attr")
