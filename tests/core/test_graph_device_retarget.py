"""retarget_device: devices baked into a graph exported on meta are moved after loading."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from autodeploy.graph import retarget_device  # noqa: E402


class MakesTensors(torch.nn.Module):
    """Creates tensors on the weights' device: keyword (`arange`, `zeros`) and positional
    (`.to(device, dtype)` -> `aten.to.device(x, device, dtype)`) device arguments."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(4))

    def forward(self, x):
        device = self.weight.device
        positions = torch.arange(x.shape[1], device=device)
        bias = torch.zeros(4, device=device)
        scale = positions.to(device, torch.float32).unsqueeze(-1)
        return x * self.weight + bias + scale


def _devices_in(gm) -> set[str]:
    found = set()

    def visit(value):
        if isinstance(value, torch.device):
            found.add(value.type)
        return value

    for node in gm.graph.nodes:
        torch.fx.node.map_aggregate((node.args, node.kwargs), visit)
    return found


def _export_on_meta():
    model = MakesTensors().to("meta")
    example = torch.ones((2, 3, 4), device="meta")
    program = torch.export.export(
        model, (example,), dynamic_shapes=({0: torch.export.Dim("b", max=8), 1: torch.export.Dim("s", max=8)},)
    )
    return program.module(check_guards=False)


def test_meta_devices_in_keyword_and_positional_arguments_are_retargeted():
    gm = _export_on_meta()
    assert "meta" in _devices_in(gm)
    gm.load_state_dict({"weight": torch.full((4,), 2.0)}, assign=True)

    changed = retarget_device(gm, "cpu")

    assert changed >= 3  # arange, zeros, to.device (plus torch's own metadata asserts)
    assert _devices_in(gm) == {"cpu"}
    x = torch.randn(3, 5, 4)
    expected = x * 2 + torch.arange(5, dtype=torch.float32).unsqueeze(-1)
    torch.testing.assert_close(gm(x), expected, rtol=0, atol=0)
    assert retarget_device(gm, "cpu") == 0  # nothing left on meta


def test_device_strings_in_traced_graphs_and_nested_graphs_are_retargeted():
    class MovesByName(torch.nn.Module):
        def forward(self, x):
            return x.to("meta") + torch.zeros(x.shape[0], device="meta")

    inner = torch.fx.symbolic_trace(MovesByName())
    outer = torch.fx.symbolic_trace(torch.nn.Sequential(torch.nn.Identity()))
    outer.add_submodule("nested", inner)

    assert retarget_device(outer, torch.device("cpu")) == 2

    to_node = next(n for n in inner.graph.nodes if n.op == "call_method")
    assert to_node.args[1] == "cpu"
    torch.testing.assert_close(inner(torch.ones(2)), torch.ones(2))


def test_other_devices_and_plain_strings_are_left_alone():
    class Labels(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.pad(x, (1, 1), mode="constant").to("cpu")

    gm = torch.fx.symbolic_trace(Labels())
    code_before = gm.code
    assert retarget_device(gm, "cpu") == 0  # "constant" is no device, "cpu" is not meta
    assert gm.code == code_before
