"""The SwiGLU MLP as one op (``autodeploy::torch_swiglu_mlp``), seen as the three linears it holds.

``match_swiglu_pattern`` (stage pattern_matcher, as in AutoDeploy) turns ``down(silu(gate(x)) *
up(x))`` into one op before the sharding stage runs, so the detector finds no gate/up/down linear
nodes there: it must read the op's weights instead. Split, the op stays one op: each rank holds
its share of the intermediate features (gate and up by rows of their weights, down by columns),
computes a partial ``down`` product, and an all-reduce after the op sums the shares, exactly as
for a column/row pair of plain linears.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import fx

# the op's arguments, in its schema's order (x first)
ARG_NAMES = ("x", "gate_weight", "up_weight", "down_weight", "gate_bias", "up_bias", "down_bias")


def swiglu_target() -> Optional[object]:
    """The op, once registered (``autodeploy.ops`` is imported by whoever made the graph)."""
    namespace = getattr(torch.ops, "autodeploy", None)
    packet = getattr(namespace, "torch_swiglu_mlp", None) if namespace is not None else None
    return getattr(packet, "default", None)


def is_swiglu(node: fx.Node) -> bool:
    target = swiglu_target()
    return target is not None and node.op == "call_function" and node.target is target


def swiglu_args(node: fx.Node) -> dict[str, Any]:
    """The op's arguments by name, whether given by position or by keyword."""
    args: dict[str, Any] = dict.fromkeys(ARG_NAMES)
    for name, value in zip(ARG_NAMES, node.args, strict=False):  # trailing defaults may be left out
        args[name] = value
    for name, value in node.kwargs.items():
        if name in args:
            args[name] = value
    return args


def swiglu_nodes(gm: fx.GraphModule) -> list[fx.Node]:
    """SwiGLU ops whose weights (and biases) are the graph's own tensors (``get_attr``)."""
    found = []
    for node in gm.graph.nodes:
        if not is_swiglu(node):
            continue
        args = swiglu_args(node)
        tensors = [args[name] for name in ARG_NAMES[1:]]
        weights_ok = all(isinstance(t, fx.Node) and t.op == "get_attr" for t in tensors[:3])
        biases_ok = all(t is None or (isinstance(t, fx.Node) and t.op == "get_attr") for t in tensors[3:])
        if weights_ok and biases_ok:
            found.append(node)
    return found


def tensor_names(node: fx.Node) -> dict[str, Optional[str]]:
    """The state-dict names of the op's weights and biases (``gate_weight``: ``model...gate_proj.weight``)."""
    args = swiglu_args(node)
    return {name: (str(args[name].target) if args[name] is not None else None) for name in ARG_NAMES[1:]}


def weight_name(node: fx.Node, part: str) -> str:
    """The state-dict name of the weight of `part` (gate, up or down)."""
    return str(swiglu_args(node)[f"{part}_weight"].target)


def layer_names(node: fx.Node) -> dict[str, str]:
    """The module names of the op's three linears (``model.layers.0.mlp.gate_proj`` ...)."""
    return {part: weight_name(node, part).rsplit(".", 1)[0] for part in ("gate", "up", "down")}


def take_down_bias(node: fx.Node) -> Any:
    """Remove the op's down bias (to be added once, after the all-reduce) and return it."""
    args = swiglu_args(node)
    bias = args["down_bias"]
    if bias is None:
        return None
    if len(node.args) > ARG_NAMES.index("down_bias"):
        new_args = list(node.args)
        new_args[ARG_NAMES.index("down_bias")] = None
        node.args = tuple(new_args)
    node.kwargs = {key: value for key, value in node.kwargs.items() if key != "down_bias"}
    return bias
