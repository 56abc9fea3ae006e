"""Lower ``autodeploy::torch_swiglu_mlp`` into two products (``fuse_swiglu``).

``down(silu(gate(x)) * up(x))`` becomes ``down(silu_and_mul(linear(x, [gate; up])))``: the gate and
up weights are concatenated once, after loading, so each token reads ``x`` once and calls one
product instead of two. The products stay plain ``aten.linear`` nodes, which the quantization
transforms (and anyone else looking for linears) still recognise.

Backends: ``torch`` (``autodeploy::silu_and_mul``: chunk, silu, multiply).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodeploy.graph import node_arg

from .gemm_fusion import _drop_attr_if_unused, _fused_name
from .graph_nodes import attr_tensor, attr_tensors, is_call

if TYPE_CHECKING:
    from torch import fx

SWIGLU = "autodeploy.torch_swiglu_mlp.default"
SWIGLU_BACKENDS = ("torch",)


def lower_swiglus(gm: fx.GraphModule, backend: str = "torch") -> int:
    """Rewrite every SwiGLU op whose gate/up weights are loaded parameters; returns how many."""
    import torch

    import autodeploy.ops  # noqa: F401 - registers the ops

    if backend not in SWIGLU_BACKENDS:
        raise ValueError(f"unknown swiglu backend {backend!r}; known: {', '.join(SWIGLU_BACKENDS)}")
    count = 0
    for node in list(gm.graph.nodes):
        if not is_call(node, SWIGLU):
            continue
        args = list(node.args) + [None] * (7 - len(node.args))
        x, gate_w, up_w, down_w, gate_b, up_b, down_b = args[:7]
        gate, up = attr_tensor(gm, gate_w), attr_tensor(gm, up_w)
        gate_node = node_arg(node, 1)  # gate_w as a node: it is one when gate is not None
        if gate is None or up is None or gate_node is None or gate.device.type == "meta" or gate.dtype != up.dtype:
            continue
        if (gate_b is None) != (up_b is None):
            continue
        biases = attr_tensors(gm, (gate_b, up_b)) if gate_b is not None else []
        if biases is None:  # a computed bias: nothing to join
            continue
        weight_name = _fused_name(gm, gate_node, "gate_up_weight")
        gm.register_parameter(weight_name, torch.nn.Parameter(torch.cat([gate, up], dim=0), requires_grad=False))
        bias_name = None
        if gate_b is not None:
            bias_name = _fused_name(gm, gate_node, "gate_up_bias")
            joined = torch.cat(biases, dim=0)
            gm.register_parameter(bias_name, torch.nn.Parameter(joined, requires_grad=False))
        with gm.graph.inserting_before(node):
            weight_node = gm.graph.get_attr(weight_name)
            bias_node = gm.graph.get_attr(bias_name) if bias_name else None
            gate_up = gm.graph.call_function(torch.ops.aten.linear.default, (x, weight_node, bias_node))
            hidden = gm.graph.call_function(torch.ops.autodeploy.silu_and_mul.default, (gate_up,))
            out = gm.graph.call_function(torch.ops.aten.linear.default, (hidden, down_w, down_b))
        if "val" in node.meta:
            out.meta["val"] = node.meta["val"]
        node.replace_all_uses_with(out)
        gm.graph.erase_node(node)
        for attr in (gate_w, up_w, gate_b, up_b):
            _drop_attr_if_unused(gm, attr)
        count += 1
    if count:
        gm.graph.lint()
        gm.recompile()
    return count
