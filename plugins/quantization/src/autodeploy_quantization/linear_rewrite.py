"""Replace ``aten.linear`` nodes whose weight is a loaded parameter with a quantized linear op.

Which linears: every ``aten.linear`` whose weight is a 2-D floating-point parameter (or buffer)
read through ``get_attr``, whose name matches none of the config's ``exclude_modules`` patterns
(fnmatch, e.g. ``*lm_head*``). The quantized tensors are registered next to the weight (same
owner module, names ``<weight>_q`` / ``<weight>_scale`` ...); the float weight is dropped when
nothing else reads it (a tied embedding keeps it).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import torch
    from torch import fx

LINEAR = "aten.linear.default"


@dataclass
class RewriteResult:
    layers: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    skipped: list[str] = field(default_factory=list)


def _tensor_of(gm: fx.GraphModule, target: str) -> Optional[torch.Tensor]:
    owner_name, _, leaf = target.rpartition(".")
    try:
        owner = gm.get_submodule(owner_name) if owner_name else gm
    except AttributeError:
        return None
    return getattr(owner, leaf, None)


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def excluded(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def quantize_linears(
    gm: fx.GraphModule,
    exclude: Sequence[str],
    make: Callable[[torch.Tensor], tuple[dict[str, torch.Tensor], Any, Callable[..., tuple[Any, ...]]]],
) -> RewriteResult:
    """Rewrite the eligible linears of `gm`.

    `make(weight)` returns ``(tensors, op, args_of)``: the quantized tensors by suffix, the op to
    call, and ``args_of(x, nodes_by_suffix, bias)`` giving the op's arguments.
    """
    import torch

    result = RewriteResult()
    done: dict[str, dict[str, Any]] = {}  # weight target -> its quantized get_attr targets
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or str(node.target) != LINEAR:
            continue
        args = list(node.args) + [None] * (3 - len(node.args))
        x, weight_node, bias = args[0], args[1], node.kwargs.get("bias", args[2])
        if not isinstance(weight_node, torch.fx.Node) or weight_node.op != "get_attr":
            continue
        target = str(weight_node.target)
        weight = _tensor_of(gm, target)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or not weight.is_floating_point():
            continue
        if weight.device.type == "meta":
            continue
        if excluded(target, exclude):
            if target not in result.skipped:
                result.skipped.append(target)
            continue
        if target not in done:
            tensors, op, args_of = make(weight)
            owner_name, _, leaf = target.rpartition(".")
            owner = gm.get_submodule(owner_name) if owner_name else gm
            names = {}
            for suffix, tensor in tensors.items():
                attr = f"{leaf}_{suffix}"
                owner.register_buffer(attr, tensor, persistent=True)
                names[suffix] = f"{owner_name}.{attr}" if owner_name else attr
            done[target] = {"names": names, "op": op, "args_of": args_of}
            result.layers += 1
            result.bytes_before += _nbytes(weight)
            result.bytes_after += sum(_nbytes(t) for t in tensors.values())
        entry = done[target]
        with gm.graph.inserting_before(node):
            nodes = {suffix: gm.graph.get_attr(name) for suffix, name in entry["names"].items()}
            new = gm.graph.call_function(entry["op"], entry["args_of"](x, nodes, bias))
        if "val" in node.meta:
            new.meta["val"] = node.meta["val"]
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        _drop_if_unused(gm, weight_node)
    if result.layers:
        gm.graph.eliminate_dead_code()
        gm.graph.lint()
        gm.recompile()
    return result


def _drop_if_unused(gm: fx.GraphModule, node: fx.Node) -> None:
    if node.users:
        return
    target = str(node.target)
    gm.graph.erase_node(node)
    if any(n.op == "get_attr" and str(n.target) == target for n in gm.graph.nodes):
        return
    owner_name, _, leaf = target.rpartition(".")
    owner = gm.get_submodule(owner_name) if owner_name else gm
    # a tied weight is one tensor under several names: drop this name only
    owner._parameters.pop(leaf, None)
    owner._buffers.pop(leaf, None)
