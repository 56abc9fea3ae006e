"""Small helpers over fx nodes shared by the matchers: which op a node calls, its arguments by
name, where in the model it comes from, and dead-code removal that sees through export's
metadata assertions."""

from __future__ import annotations

import re
from typing import Any, Optional

import torch
from torch import fx

aten = torch.ops.aten

# export keeps `x.to(dtype)` checks as side-effecting nodes: they would keep dead code alive
_ASSERTS = (aten._assert_tensor_metadata, aten._assert_scalar)
# random ops fx counts as impure; unused, they are dead all the same in an inference graph
_RANDOM_BUT_DEAD = (aten.dropout, aten.native_dropout, aten.scaled_dot_product_attention)


def packet_of(node: fx.Node) -> Any:
    target = node.target
    return getattr(target, "overloadpacket", target)


def is_op(node: Any, *packets: Any) -> bool:
    """Whether `node` calls one of the op packets (``aten.softmax`` matches every overload)."""
    return isinstance(node, fx.Node) and node.op == "call_function" and packet_of(node) in packets


def arg(node: fx.Node, index: int, name: str, default: Any = None) -> Any:
    """Argument `index` of a call, given by position or as keyword `name`."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def real_users(node: fx.Node) -> list[fx.Node]:
    """The users of `node`, export's metadata assertions left out."""
    return [user for user in node.users if not is_op(user, *_ASSERTS)]


def module_path(node: fx.Node) -> str:
    """The model submodule a node was traced in (``model.layers.3.self_attn``), or its name."""
    stack = node.meta.get("nn_module_stack")
    if stack:
        path = list(stack.values())[-1][0]
        return re.sub(r"\[(\d+)\]", r".\1", str(path)).removeprefix("L['self'].")
    return node.name


def layer_index(node: fx.Node) -> Optional[int]:
    """The decoder layer a node belongs to: the last number in its module path."""
    numbers = re.findall(r"(?:^|\.)(\d+)(?=\.|$)", module_path(node))
    return int(numbers[-1]) if numbers else None


def copy_meta(new: fx.Node, old: fx.Node) -> None:
    """Keep where `old` came from (module stack, source line) on its replacement."""
    for key in ("nn_module_stack", "stack_trace", "source_fn_stack"):
        if key in old.meta:
            new.meta[key] = old.meta[key]


def remove_dead_code(gm: fx.GraphModule) -> None:
    """Remove unused nodes, including metadata assertions whose subject nothing else uses."""
    graph = gm.graph
    changed = True
    while changed:
        changed = False
        for node in reversed(list(graph.nodes)):
            if is_op(node, *_ASSERTS) and not node.users:
                subject = node.args[0] if node.args else None
                if isinstance(subject, fx.Node) and not real_users(subject):
                    graph.erase_node(node)
                    changed = True
            elif is_op(node, *_RANDOM_BUT_DEAD) and not node.users:
                graph.erase_node(node)
                changed = True
        changed = graph.eliminate_dead_code() or changed
    gm.recompile()


def export_meta(gm: fx.GraphModule) -> dict:
    return gm.meta.get("autodeploy_export") or {}


def sliding_window_for(gm: fx.GraphModule, node: fx.Node) -> Optional[int]:
    """The sliding window of the attention at `node`, from the configuration export recorded.

    A model with ``layer_types`` (Qwen2, Gemma 2/3, ...) slides only in its
    ``sliding_attention`` layers; otherwise ``sliding_window`` (Mistral, Phi-3) applies to all.
    """
    config = export_meta(gm).get("model_config") or {}
    window = config.get("sliding_window")
    if not window:
        return None
    layer_types = config.get("layer_types")
    index = layer_index(node)
    if layer_types and index is not None and index < len(layer_types):
        return int(window) if layer_types[index] == "sliding_attention" else None
    return int(window)


def model_built_mask(mask: Any) -> bool:
    """Whether an attention mask is one the model builds itself from the positions alone (its
    causal or sliding-window mask), not one that arrives as a graph input of its own."""
    if mask is None:
        return True
    if not isinstance(mask, fx.Node):
        return False
    seen, todo = set(), [mask]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.op == "placeholder" and node.name not in ("input_ids", "position_ids"):
            return False
        todo.extend(node.all_input_nodes)
    return True
