"""Find the SwiGLU MLP written as model code and replace it with ``autodeploy::torch_swiglu_mlp``.

The shape (Llama, Qwen2, Mistral, SmolLM2 ...)::

    out = linear(silu(linear(x, Wg, bg)) * linear(x, Wu, bu), Wd, bd)

Both inner products read the same `x`; each node inside feeds only the next one, else the match is
refused. Gated MLPs with another activation (Gemma's GELU) are left alone: ``fuse_gemms`` still
joins their gate and up products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from .graph_nodes import drop_metadata_assertions, is_call, linear_parts, readers

if TYPE_CHECKING:
    from torch import fx

LINEAR = "aten.linear.default"


@dataclass
class SwiGLUMatch:
    x: Any
    gate: tuple[Any, Any]  # (weight, bias)
    up: tuple[Any, Any]
    down: tuple[Any, Any]
    output: fx.Node
    chain: list[fx.Node]


def find_swiglus(gm: fx.GraphModule) -> list[SwiGLUMatch]:
    matches = []
    for node in gm.graph.nodes:
        if is_call(node, "aten.silu.default"):
            match = _match_from_silu(node)
            if match is not None:
                matches.append(match)
    return matches


def _match_from_silu(silu: fx.Node) -> Optional[SwiGLUMatch]:
    gate = silu.args[0]
    if not is_call(gate, LINEAR):
        return None
    users = readers(silu)
    if len(users) != 1 or not is_call(users[0], "aten.mul.Tensor"):
        return None
    mul = users[0]
    up = mul.args[1] if mul.args[0] is silu else mul.args[0]
    if not is_call(up, LINEAR):
        return None
    x, gate_w, gate_b = linear_parts(gate)
    up_x, up_w, up_b = linear_parts(up)
    if up_x is not x:
        return None
    after = readers(mul)
    if len(after) != 1 or not is_call(after[0], LINEAR) or after[0].args[0] is not mul:
        return None
    down = after[0]
    _, down_w, down_b = linear_parts(down)
    chain = [gate, up, silu, mul, down]
    if any(len(readers(node)) != 1 for node in chain[:-1]):
        return None
    return SwiGLUMatch(x=x, gate=(gate_w, gate_b), up=(up_w, up_b), down=(down_w, down_b), output=down, chain=chain)


def replace_swiglus(gm: fx.GraphModule) -> int:
    """Replace every safe SwiGLU MLP of `gm` with ``autodeploy::torch_swiglu_mlp``; returns how many."""
    import torch

    import autodeploy.ops  # noqa: F401 - registers the op

    op = torch.ops.autodeploy.torch_swiglu_mlp.default
    matches = find_swiglus(gm)
    for match in matches:
        args = (match.x, match.gate[0], match.up[0], match.down[0], match.gate[1], match.up[1], match.down[1])
        with gm.graph.inserting_before(match.output):
            new = gm.graph.call_function(op, args)
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
