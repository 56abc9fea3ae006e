"""Compute the logits of the last sequence position only: slice the lm_head's input to it.

An exported causal LM returns ``[batch, seq, vocab]`` logits, but a generation step reads only
the last position's row. The final projection (``aten.linear`` or ``aten.matmul`` onto the
vocabulary) is the single biggest matmul of a small model at short sequences, so computing it
for every position wastes most of its work; Hugging Face's ``generate`` avoids that with
``logits_to_keep=1``. The rewrite takes ``hidden[:, -1:, :]`` before that projection, so the
graph returns ``[batch, 1, vocab]``. The slice is the canonical op
``autodeploy::gather_logits_before_lm_head(hidden, None)``; a cached graph (``insert_cached_attention``)
hands it the step's ``last_token_index``, so a packed step gets one logits row per sequence.

Which node is the projection: walking back from the graph's (only) output tensor, through nodes
that act on each position alone and keep the shape (dtype casts, shape-preserving views, a
scalar scale or ``tanh`` as in logit soft-capping), the first ``linear``/``matmul`` whose input is
a 3-D ``[batch, seq, hidden]`` tensor and whose weight is 2-D. Every node on that path must feed
only the next one: another reader would silently get one position instead of all.

torch is imported by the functions: the transform wrapping this module is listed without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from .graph_cleanups.node_values import recorded_value, same_size

if TYPE_CHECKING:
    from torch import fx

SEQUENCE_DIM = 1


def slice_lm_head_input_to_last_position(gm: fx.GraphModule) -> int:
    """Rewrite `gm` to compute its output logits for the last position only; returns 1 if it
    did, 0 if the graph has no such final projection (or already slices its input)."""
    from torch import fx

    path = _path_from_output_to_projection(gm)
    if path is None:
        return 0
    projection, between = path
    hidden = projection.args[0]
    assert isinstance(hidden, fx.Node), "a projection's input is a graph node"
    if _is_gather(hidden):
        return 0  # already rewritten (the transform ran before)
    from autodeploy.ops import gather_logits_op

    with gm.graph.inserting_before(projection):
        last = gm.graph.call_function(gather_logits_op(), (hidden, None))
    projection.replace_input_with(hidden, last)
    for node in between:
        _shrink_view_to_one_position(node)
    gm.graph.lint()
    gm.recompile()
    return 1


def _path_from_output_to_projection(gm: fx.GraphModule) -> Optional[tuple[fx.Node, list[fx.Node]]]:
    """The final projection and the per-position nodes between it and the output, or None."""
    from torch import fx

    output = next(iter(gm.graph.find_nodes(op="output")), None)
    if output is None:
        return None
    leaves = [leaf for leaf in _flatten(output.args[0]) if isinstance(leaf, fx.Node)]
    if len(leaves) != 1:
        return None  # not one logits tensor: which one to shrink is not ours to guess
    between: list[fx.Node] = []
    node = leaves[0]
    while isinstance(node, fx.Node) and node.op == "call_function":
        if _readers(node) != 1:
            return None
        if _is_projection(node):
            return node, between
        if not _acts_per_position(node):
            return None
        between.append(node)
        node = node.args[0]  # type: ignore[assignment]  # a node's first argument, checked by the loop
    return None


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flatten(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _flatten(item)]
    return [value]


def _readers(node: fx.Node) -> int:
    """How many nodes read `node`, not counting export's dtype/device assertions."""
    return sum(1 for user in node.users if not _is_metadata_assertion(user))


def _is_metadata_assertion(node: fx.Node) -> bool:
    """``_assert_tensor_metadata`` checking dtype/device only: still true after the slice."""
    return (
        str(node.target) == "aten._assert_tensor_metadata.default"
        and node.kwargs.get("size") is None
        and node.kwargs.get("stride") is None
    )


_PROJECTIONS = ("aten.linear.default", "aten.matmul.default")
_CASTS = ("aten.to.dtype", "aten._to_copy.default", "prims.convert_element_type.default", "aten.clone.default")
_VIEWS = ("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default")
_SCALAR_SCALES = ("aten.mul.Tensor", "aten.div.Tensor", "aten.mul.Scalar", "aten.div.Scalar")
_UNARY = ("aten.tanh.default",)


def _is_projection(node: fx.Node) -> bool:
    if str(node.target) not in _PROJECTIONS or len(node.args) < 2:
        return False
    hidden, weight = recorded_value(node.args[0]), recorded_value(node.args[1])
    return hidden is not None and weight is not None and hidden.dim() == 3 and weight.dim() == 2


def _acts_per_position(node: fx.Node) -> bool:
    """Whether `node` maps each position of its first argument to the same position of its output."""
    from torch import fx

    name = str(node.target)
    if not node.args or not isinstance(node.args[0], fx.Node):
        return False
    if name in _CASTS or name in _UNARY:
        return True
    if name in _SCALAR_SCALES:
        return len(node.args) > 1 and isinstance(node.args[1], (int, float)) and not isinstance(node.args[1], bool)
    if name in _VIEWS:
        return _is_same_shape_3d(node.args[0], node)
    return False


def _is_same_shape_3d(a: fx.Node, b: fx.Node) -> bool:
    value_a, value_b = recorded_value(a), recorded_value(b)
    if value_a is None or value_b is None or value_a.dim() != 3 or value_b.dim() != 3:
        return False
    return all(same_size(x, y) for x, y in zip(value_a.shape, value_b.shape, strict=True))


def _shrink_view_to_one_position(node: fx.Node) -> None:
    """A same-shape view on the path names the sequence length in its target shape: make it -1
    (inferred: 1 row per sequence, or one per sequence of a packed step), or 1 when another
    dimension is already -1."""
    if str(node.target) not in _VIEWS:
        return
    shape = list(node.args[1])  # type: ignore[arg-type]  # a view's target shape
    shape[SEQUENCE_DIM] = 1 if any(size == -1 for size in shape) else -1
    node.update_arg(1, shape)


def _is_gather(node: Any) -> bool:
    from torch import fx

    return isinstance(node, fx.Node) and str(node.target) == "autodeploy.gather_logits_before_lm_head.default"
