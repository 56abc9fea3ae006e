"""Rewrite a graph for this rank: split weights, shrink head counts, add the collectives.

Every check runs before anything changes, and all problems are reported at once: a plan that
cannot be applied (a head count the world size does not divide) leaves the graph as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from autodeploy import ConfigError
from autodeploy.distributed import WeightSlice, register_collectives, set_weight_slice

from .fused_mlp import is_swiglu, take_down_bias
from .plan import ShardingPlan, SplitLinear

_SHAPE_OPS = (
    torch.ops.aten.view.default,
    torch.ops.aten.reshape.default,
    torch.ops.aten._unsafe_view.default,
    torch.ops.aten.expand.default,
)


@dataclass
class ShardingEdits:
    """What applying a plan will change, computed (and checked) before changing it."""

    slices: list[tuple[str, int]] = field(default_factory=list)  # (tensor name, dim)
    shapes: list[tuple[fx.Node, int, int]] = field(default_factory=list)  # (node, index in shape arg, new value)
    problems: list[str] = field(default_factory=list)


def apply_plan(gm: fx.GraphModule, plan: ShardingPlan) -> int:
    """Apply `plan` to `gm`; return the number of layers split. Raises `ConfigError` if it cannot."""
    nodes = {node.name: node for node in gm.graph.nodes}
    edits = _plan_edits(gm, plan, nodes)
    if edits.problems:
        raise ConfigError(
            f"cannot shard the model over {plan.world_size} ranks:\n  - "
            + "\n  - ".join(edits.problems)
            + "\n(choose a world size that divides these, or set simple_shard_only: true)"
        )
    for name, dim in edits.slices:
        _slice_tensor(gm, name, dim, plan.rank, plan.world_size)
    for node, index, value in edits.shapes:
        shape_arg = node.args[1]
        if not isinstance(shape_arg, (list, tuple)):  # _add_shape_edit only records list/tuple shapes
            raise TypeError(f"`{node.name}`: its shape argument is not a list")
        shape = list(shape_arg)
        shape[index] = value
        node.args = (node.args[0], shape, *node.args[2:])
    register_collectives()
    for group in plan.groups:
        _reduce_after(gm, nodes[group.row.node])
    for linear in plan.gathers:
        _gather_after(gm, nodes[linear.node])
    gm.graph.lint()
    gm.recompile()
    return plan.num_split_layers


def _plan_edits(gm: fx.GraphModule, plan: ShardingPlan, nodes: dict[str, fx.Node]) -> ShardingEdits:
    edits = ShardingEdits()
    world = plan.world_size
    for group in plan.groups:
        for column in group.columns:
            _add_slice(gm, edits, column, world, dim=0)
        _add_slice(gm, edits, group.row, world, dim=1, bias=False)
        if group.fused:
            continue  # one op: no view/reshape between its column and row products
        columns = {nodes[c.node]: c for c in group.columns}
        region = _region(nodes, columns, nodes[group.row.node])
        for node in region:
            if node.op == "call_function" and node.target in _SHAPE_OPS:
                feeding = columns.get(node.args[0]) if isinstance(node.args[0], fx.Node) else None
                if feeding is not None:
                    _check_heads(gm, edits, node, feeding, world)
                _add_shape_edit(edits, node, world, group.columns[0].layer)
    for linear in plan.gathers:
        _add_slice(gm, edits, linear, world, dim=0)
    return edits


def _add_slice(
    gm: fx.GraphModule, edits: ShardingEdits, linear: SplitLinear, world: int, dim: int, bias: bool = True
) -> None:
    names = [linear.weight] + ([linear.bias] if bias and linear.bias else [])
    for name in names:
        size = _tensor(gm, name).shape[dim]
        if size % world:
            what = "output features" if dim == 0 else "input features"
            edits.problems.append(f"{linear.layer}: {size} {what} do not divide by world size {world}")
        else:
            edits.slices.append((name, dim if name == linear.weight else 0))


def _check_heads(gm: fx.GraphModule, edits: ShardingEdits, node: fx.Node, linear: SplitLinear, world: int) -> None:
    """A column layer's output viewed as heads must keep whole heads on every rank."""
    shape = node.args[1]
    if not isinstance(shape, (list, tuple)) or -1 not in shape:
        return
    head_size = 1
    for index, value in enumerate(shape):
        if isinstance(value, int) and value != -1 and index > shape.index(-1):
            head_size *= value
    features = _tensor(gm, linear.weight).shape[0]
    if head_size > 1 and features % head_size == 0 and (features // head_size) % world:
        edits.problems.append(
            f"{linear.layer}: its {features} output features are {features // head_size} heads of {head_size}, "
            f"which world size {world} does not divide"
        )


def _add_shape_edit(edits: ShardingEdits, node: fx.Node, world: int, layer: str) -> None:
    """Shrink the head (or feature) count a view/reshape/expand spells out as a constant."""
    shape = node.args[1]
    if not isinstance(shape, (list, tuple)) or any(isinstance(v, int) and v == -1 for v in shape):
        return  # a -1 takes up whatever the split leaves
    constant = {i: v for i, v in enumerate(shape) if isinstance(v, int) and not isinstance(v, bool)}
    positions = list(constant)
    inner = [i for i in positions if 0 < i < len(shape) - 1]
    if inner:
        index = inner[0]
    elif positions and positions[-1] == len(shape) - 1:
        index = positions[-1]
    else:
        return
    value = constant[index]
    if value % world:
        edits.problems.append(
            f"{layer}: `{node.name}` splits its output into {value} heads (dimension {index} of {list(shape)}), "
            f"which world size {world} does not divide"
        )
    else:
        edits.shapes.append((node, index, value // world))


def _region(nodes: dict[str, fx.Node], columns: Iterable[fx.Node], row: fx.Node) -> list[fx.Node]:
    """Every node computed from the column layers' outputs before the row layer."""
    seen: set[fx.Node] = set()
    stack = [user for column in columns for user in column.users]
    while stack:
        node = stack.pop()
        if node is row or node in seen:
            continue
        seen.add(node)
        stack.extend(node.users)
    order = {node: i for i, node in enumerate(nodes.values())}
    return sorted(seen, key=order.__getitem__)


def _tensor(gm: fx.GraphModule, name: str) -> torch.Tensor:
    owner_name, _, attr = name.rpartition(".")
    owner = gm.get_submodule(owner_name) if owner_name else gm
    return getattr(owner, attr)


def _slice_tensor(gm: fx.GraphModule, name: str, dim: int, rank: int, world: int) -> None:
    owner_name, _, attr = name.rpartition(".")
    owner = gm.get_submodule(owner_name) if owner_name else gm
    tensor = getattr(owner, attr)
    length = tensor.shape[dim] // world
    start = rank * length
    shard_shape = list(tensor.shape)
    shard_shape[dim] = length
    if tensor.is_meta:
        data = torch.empty(shard_shape, dtype=tensor.dtype, device="meta")
    else:
        data = tensor.detach().narrow(dim, start, length).clone()
    if isinstance(tensor, nn.Parameter):
        owner.register_parameter(attr, nn.Parameter(data, requires_grad=tensor.requires_grad))
    else:
        owner.register_buffer(attr, data, persistent=attr not in getattr(owner, "_non_persistent_buffers_set", ()))
    set_weight_slice(gm, name, WeightSlice(dim=dim, start=start, length=length, full_shape=tuple(tensor.shape)))


def _reduce_after(gm: fx.GraphModule, row: fx.Node) -> None:
    """Sum the ranks' partial products after a row-split layer; its bias is added once, after."""
    graph = gm.graph
    if is_swiglu(row):
        bias = take_down_bias(row)
    else:
        bias = row.args[2] if len(row.args) > 2 else row.kwargs.get("bias")
        if bias is not None:
            row.args = (row.args[0], row.args[1])
            row.kwargs = {key: value for key, value in row.kwargs.items() if key != "bias"}
    with graph.inserting_after(row):
        reduced = graph.call_function(torch.ops.autodeploy.all_reduce.default, (row,))
    result = reduced
    if bias is not None:
        with graph.inserting_after(reduced):
            result = graph.call_function(torch.ops.aten.add.Tensor, (reduced, bias))
    row.replace_all_uses_with(result, delete_user_cb=lambda user: user not in (reduced, result))


def _gather_after(gm: fx.GraphModule, linear: fx.Node) -> None:
    """Join the ranks' column shares of a layer kept whole (the simple split)."""
    with gm.graph.inserting_after(linear):
        gathered = gm.graph.call_function(torch.ops.autodeploy.all_gather.default, (linear, -1))
    linear.replace_all_uses_with(gathered, delete_user_cb=lambda user: user is not gathered)
