"""Find RMSNorm written as model code and replace it with ``autodeploy::torch_rmsnorm``.

The shape it recognises (Llama, Qwen2, Mistral, Gemma, ... as exported by torch.export)::

    xf     = x.to(float32)                     # optional cast
    normed = xf * rsqrt(mean(xf ** 2, -1, keepdim=True) + eps)
    out    = weight * normed.to(x.dtype)        # optional cast; weight on either side

`weight` may be a parameter or a computed tensor (Gemma's ``1 + weight``). Each intermediate
node must feed only the chain (export's metadata assertions aside), else the match is refused:
another reader would lose its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from autodeploy.graph import node_arg

from .graph_nodes import CASTS, drop_metadata_assertions, is_call, readers, strip_casts

if TYPE_CHECKING:
    from torch import fx

_MULS = ("aten.mul.Tensor",)
_ADDS = ("aten.add.Tensor", "aten.add.Scalar")


@dataclass
class RMSNormMatch:
    source: Any  # the norm's input before any float32 cast
    weight: Any
    eps: float
    output: fx.Node  # the node whose value the op replaces
    chain: list[fx.Node]  # the matched nodes, output last


def find_rmsnorms(gm: fx.GraphModule) -> list[RMSNormMatch]:
    """Every RMSNorm in `gm` that can be replaced safely."""
    matches = []
    for node in gm.graph.nodes:
        if is_call(node, "aten.rsqrt.default"):
            match = _match_from_rsqrt(node)
            if match is not None:
                matches.append(match)
    return matches


def _match_from_rsqrt(rsqrt: fx.Node) -> Optional[RMSNormMatch]:
    add = rsqrt.args[0]
    if not is_call(add, *_ADDS) or len(add.args) < 2 or not isinstance(add.args[1], (int, float)):
        return None
    eps = float(add.args[1])
    mean = add.args[0]
    if not is_call(mean, "aten.mean.dim") or not _is_last_dim_keepdim(mean):
        return None
    square = mean.args[0]
    if not is_call(square, "aten.pow.Tensor_Scalar") or square.args[1] != 2:
        return None
    xf = square.args[0]
    users = readers(rsqrt)
    if len(users) != 1 or not is_call(users[0], *_MULS):
        return None
    normed = users[0]
    if xf not in normed.args:
        return None
    chain = [square, mean, add, rsqrt, normed]
    current = normed
    while True:  # optional casts after the normalisation
        after = readers(current)
        if len(after) != 1:
            return None
        if is_call(after[0], *CASTS):
            current = after[0]
            chain.append(current)
            continue
        break
    scale = after[0]
    if not is_call(scale, *_MULS) or current not in scale.args:
        return None
    weight = scale.args[1] if scale.args[0] is current else scale.args[0]
    if not _looks_like_vector(weight):
        return None
    chain.append(scale)
    for node in chain[:-1]:
        if len(readers(node)) != 1:
            return None
    return RMSNormMatch(source=strip_casts(xf), weight=weight, eps=eps, output=scale, chain=chain)


def _is_last_dim_keepdim(mean: fx.Node) -> bool:
    args = list(mean.args) + [None, None]
    dims, keepdim = args[1], mean.kwargs.get("keepdim", args[2])
    if not keepdim or not isinstance(dims, (list, tuple)) or len(dims) != 1:
        return False
    dim = dims[0]
    if dim == -1:
        return True
    source = node_arg(mean, 0)
    value = source.meta.get("val") if source is not None else None
    return value is not None and dim == value.dim() - 1


def _looks_like_vector(node: Any) -> bool:
    """A 1-D tensor (the norm's weight): checked on the recorded value when there is one."""
    from torch import fx

    if not isinstance(node, fx.Node):
        return False
    value = node.meta.get("val")
    return value is None or getattr(value, "dim", lambda: 1)() == 1


def replace_rmsnorms(gm: fx.GraphModule) -> int:
    """Replace every safe RMSNorm of `gm` with ``autodeploy::torch_rmsnorm``; returns how many."""
    import torch

    import autodeploy.ops  # noqa: F401 - registers the op

    op = torch.ops.autodeploy.torch_rmsnorm.default
    matches = find_rmsnorms(gm)
    for match in matches:
        with gm.graph.inserting_before(match.output):
            new = gm.graph.call_function(op, (match.source, match.weight, match.eps))
        if "val" in match.output.meta:
            new.meta["val"] = match.output.meta["val"]
        match.output.replace_all_uses_with(new)
        for node in reversed(match.chain):
            drop_metadata_assertions(node)
            if not node.users:
                gm.graph.erase_node(node)
    if matches:
        gm.graph.lint()
        gm.recompile()
    return len(matches)
