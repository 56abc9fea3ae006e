"""`run_shape_prop(only_missing=True)`: only the nodes a rewrite added get values, the same shapes as
a full propagation gives, in the recorded values' own fake mode (symbolic dims kept)."""

from __future__ import annotations

import torch
from torch import nn

from autodeploy.graph import run_shape_prop


class TwoLinears(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 12)
        self.b = nn.Linear(12, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x))).transpose(0, 1)


def exported() -> torch.fx.GraphModule:
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(TwoLinears(), (torch.randn(3, 8),), dynamic_shapes=({0: batch},))
    gm = program.module()
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and not node.users:  # torch's input guards: no value of their own
            gm.graph.erase_node(node)
    gm.recompile()
    return gm


def shapes(gm: torch.fx.GraphModule) -> dict[str, str]:
    return {
        node.name: str(tuple(node.meta["val"].shape))
        for node in gm.graph.nodes
        if isinstance(node.meta.get("val"), torch.Tensor)
    }


def add_a_rewrite(gm: torch.fx.GraphModule) -> list[str]:
    """A new weight (get_attr, a real tensor) and new ops without recorded values, as a fusion adds them."""
    relu = next(node for node in gm.graph.nodes if node.target is torch.ops.aten.relu.default)
    users = list(relu.users)
    gm.register_buffer("extra_weight", torch.randn(12, 12))
    with gm.graph.inserting_after(relu):
        weight = gm.graph.get_attr("extra_weight")
    with gm.graph.inserting_after(weight):
        extra = gm.graph.call_function(torch.ops.aten.linear.default, (relu, weight))
    with gm.graph.inserting_after(extra):
        doubled = gm.graph.call_function(torch.ops.aten.mul.Tensor, (extra, 2.0))
    for user in users:
        user.replace_input_with(relu, doubled)
    gm.recompile()
    return [weight.name, extra.name, doubled.name]


def test_only_the_missing_values_are_computed_and_match_a_full_propagation():
    gm = exported()
    added = add_a_rewrite(gm)
    kept = {node.name: node.meta["val"] for node in gm.graph.nodes if "val" in node.meta}
    run_shape_prop(gm, only_missing=True)
    for node in gm.graph.nodes:
        if node.name in kept:
            assert node.meta["val"] is kept[node.name]  # recorded values are left alone
    incremental = shapes(gm)
    assert all(name in incremental for name in added)
    assert "s" in incremental[added[1]]  # the batch dim stays symbolic, as export recorded it
    assert incremental[added[0]] == "(12, 12)"  # a weight's shape is static
    for node in gm.graph.nodes:
        if node.op != "placeholder":
            node.meta.pop("val", None)
    run_shape_prop(gm)
    assert shapes(gm) == incremental
