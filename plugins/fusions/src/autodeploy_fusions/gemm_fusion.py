"""Join linear layers that read the same input into one product (``fuse_gemms``).

q/k/v projections and an MLP's gate/up projections each read one tensor; three (two) small
products become one with their weights concatenated along the output dimension, and each former
output is a slice of the joint one. One call instead of several: less per-call overhead and one
pass over the input. Runs after the weights are loaded (the concatenation needs real values);
the former weights are dropped from the module once nothing else reads them.

A group is joined only when every member is ``aten.linear`` with a 2-D parameter weight of the
same dtype and device, and either all or none have a bias (a parameter too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .graph_nodes import attr_tensor, attr_tensors, is_call, linear_parts

if TYPE_CHECKING:
    import torch
    from torch import fx

LINEAR = "aten.linear.default"
FUSED_PREFIX = "fused_gemm"


@dataclass
class GemmFusionResult:
    groups: int = 0
    linears: int = 0


def _fusable(gm: fx.GraphModule, node: fx.Node) -> bool:
    _, weight, bias = linear_parts(node)
    tensor = attr_tensor(gm, weight)
    if tensor is None or tensor.dim() != 2 or tensor.device.type == "meta":
        return False
    return bias is None or attr_tensor(gm, bias) is not None


def _groups(gm: fx.GraphModule) -> list[list[fx.Node]]:
    by_input: dict[Any, list[fx.Node]] = {}
    for node in gm.graph.nodes:
        if is_call(node, LINEAR) and _fusable(gm, node):
            by_input.setdefault(node.args[0], []).append(node)
    groups = []
    for members in by_input.values():
        if len(members) < 2:
            continue
        weights = attr_tensors(gm, (linear_parts(m)[1] for m in members))
        if weights is None:  # not after _fusable; checked for the types
            continue
        first = weights[0]
        same = all(
            w.dtype == first.dtype and w.device == first.device and w.shape[1] == first.shape[1] for w in weights
        )
        has_bias = {linear_parts(m)[2] is not None for m in members}
        if same and len(has_bias) == 1:
            groups.append(members)
    return groups


def _fused_name(gm: fx.GraphModule, weight_node: fx.Node, suffix: str) -> str:
    base = f"{FUSED_PREFIX}_{str(weight_node.target).replace('.', '_')}_{suffix}"
    name, index = base, 0
    while hasattr(gm, name):
        index += 1
        name = f"{base}_{index}"
    return name


def fuse_gemm_groups(gm: fx.GraphModule) -> GemmFusionResult:
    """Join each group of same-input linears in `gm`; returns how many groups and linears."""
    import torch

    result = GemmFusionResult()
    for members in _groups(gm):
        weights = [linear_parts(m)[1] for m in members]
        biases = [linear_parts(m)[2] for m in members]
        tensors = attr_tensors(gm, weights)
        bias_tensors = attr_tensors(gm, biases) if biases[0] is not None else []
        if tensors is None or bias_tensors is None:  # not after _groups (_fusable); checked for the types
            continue
        sizes = [t.shape[0] for t in tensors]
        first = min(members, key=lambda n: _position(gm, n))
        weight_name = _fused_name(gm, weights[0], "weight")
        gm.register_parameter(weight_name, torch.nn.Parameter(torch.cat(tensors, dim=0), requires_grad=False))
        bias_name = None
        if biases[0] is not None:
            bias_name = _fused_name(gm, weights[0], "bias")
            joined = torch.cat(bias_tensors, dim=0)
            gm.register_parameter(bias_name, torch.nn.Parameter(joined, requires_grad=False))
        with gm.graph.inserting_before(first):
            weight_node = gm.graph.get_attr(weight_name)
            bias_node = gm.graph.get_attr(bias_name) if bias_name else None
            fused = gm.graph.call_function(torch.ops.aten.linear.default, (first.args[0], weight_node, bias_node))
            parts, start = [], 0
            for size in sizes:
                parts.append(gm.graph.call_function(torch.ops.aten.slice.Tensor, (fused, -1, start, start + size)))
                start += size
        for member, part in zip(members, parts, strict=True):
            _views_to_reshapes(member)
            member.replace_all_uses_with(part)
            gm.graph.erase_node(member)
        for node in [*weights, *biases]:
            _drop_attr_if_unused(gm, node)
        result.groups += 1
        result.linears += len(members)
    if result.groups:
        gm.graph.lint()
        gm.recompile()
    return result


def _position(gm: fx.GraphModule, node: fx.Node) -> int:
    for index, candidate in enumerate(gm.graph.nodes):
        if candidate is node:
            return index
    return -1


def _views_to_reshapes(node: fx.Node) -> None:
    """A slice of the joint output is not contiguous: ``view`` of it may fail where ``reshape`` works."""
    import torch

    for user in list(node.users):
        if is_call(user, "aten.view.default"):
            user.target = torch.ops.aten.reshape.default


def _drop_attr_if_unused(gm: fx.GraphModule, node: Any) -> None:
    """Erase a ``get_attr`` nothing reads any more, and its tensor if no other node names it."""
    from torch import fx

    if not isinstance(node, fx.Node) or node.op != "get_attr" or node.users:
        return
    target = str(node.target)
    gm.graph.erase_node(node)
    if any(n.op == "get_attr" and str(n.target) == target for n in gm.graph.nodes):
        return
    owner_name, _, leaf = target.rpartition(".")
    owner = gm.get_submodule(owner_name) if owner_name else gm
    if leaf in owner._parameters:
        del owner._parameters[leaf]
    elif leaf in owner._buffers:
        del owner._buffers[leaf]


def weight_bytes(gm: fx.GraphModule) -> int:
    """Bytes of every distinct parameter and buffer of `gm` (shared tensors counted once)."""
    seen: dict[int, torch.Tensor] = {}
    for tensor in (*gm.parameters(), *gm.buffers()):
        seen.setdefault(id(tensor), tensor)
    return sum(t.numel() * t.element_size() for t in seen.values() if t.device.type != "meta")
