"""move_inputs_to_device: the exported graph's recorded inputs and constants end on cm.device."""

from __future__ import annotations

import pytest
import torch
from autodeploy_load_weights.transforms import LoadWeightsToDevice, MoveInputsToDevice
from load_weights_testkit import Container, SafetensorsLlamaFactory, export_on_meta, save_tiny_llama
from torch import fx, nn

from autodeploy import AutodeployError, CachedSequenceInterface, TransformError


def move_inputs(mod, cm, shared_config):
    transform = MoveInputsToDevice.from_kwargs(stage="weight_load")
    return transform(mod, cm, None, shared_config), transform


def placeholder_devices(gm: fx.GraphModule) -> set[str]:
    return {n.meta["val"].device.type for n in gm.graph.nodes if n.op == "placeholder"}


def test_placeholders_of_a_meta_export_move_to_the_device(tmp_path, cm, shared_config):
    folder = save_tiny_llama(tmp_path / "ckpt")
    factory = SafetensorsLlamaFactory(model=folder)
    gm = export_on_meta(factory.build_model("meta"))
    load = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False)
    mod = load(Container(gm), cm, factory, shared_config)
    assert placeholder_devices(mod.factory_model) == {"meta"}

    mod, transform = move_inputs(mod, cm, shared_config)

    assert placeholder_devices(mod.factory_model) == {"cpu"}
    assert transform.last_record.num_matches == 1  # input_ids; the weights were already on cpu
    # the example value stays a fake tensor with symbolic sizes: no memory, shapes still dynamic
    (val,) = [n.meta["val"] for n in mod.factory_model.graph.nodes if n.op == "placeholder"]
    assert type(val).__name__ == "FakeTensor"
    assert not all(isinstance(size, int) for size in val.shape)

    _, again = move_inputs(mod, cm, shared_config)
    assert again.last_record.num_matches == 0


class _Scaled(nn.Module):
    """Reads a weight (twice) and a plain tensor constant through get_attr nodes."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 4))
        self.scale = torch.full((4,), 2.0)  # a plain tensor attribute: a graph constant

    def forward(self, x):
        return nn.functional.linear(x, self.weight) * self.scale + nn.functional.linear(x, self.weight)


def test_get_attr_tensors_move(shared_config):
    gm = fx.symbolic_trace(_Scaled())
    meta_cm = CachedSequenceInterface(device="meta")  # the one other device a CPU machine has

    gm, transform = move_inputs(gm, meta_cm, shared_config)

    assert gm.scale.is_meta and gm.weight.is_meta
    assert isinstance(gm.weight, nn.Parameter)
    assert transform.last_record.num_matches == 2  # the weight, the constant


def test_tied_get_attr_targets_move_once_and_stay_tied(shared_config):
    root = nn.Module()
    root.a = nn.Linear(2, 2, bias=False)
    root.b = nn.Module()
    root.b.weight = root.a.weight
    graph = fx.Graph()
    graph.placeholder("x")
    graph.output(graph.call_function(torch.add, (graph.get_attr("a.weight"), graph.get_attr("b.weight"))))
    gm = fx.GraphModule(root, graph)
    assert gm.a.weight is gm.b.weight

    gm, transform = move_inputs(gm, CachedSequenceInterface(device="meta"), shared_config)

    assert gm.a.weight.is_meta and gm.a.weight is gm.b.weight
    assert transform.last_record.num_matches == 1


def test_meta_constant_without_data_is_a_clear_error(shared_config, cm):
    with torch.device("meta"):
        gm = fx.symbolic_trace(_Scaled())

    with pytest.raises(TransformError) as raised:
        move_inputs(gm, cm, shared_config)

    assert isinstance(raised.value.__cause__, AutodeployError)
    assert "graph constant 'weight' is on the meta device" in str(raised.value)
    assert "run load_weights" in str(raised.value)


def test_eager_module_without_graph_is_skipped(cm, shared_config):
    mod, transform = move_inputs(Container(nn.Linear(2, 2)), cm, shared_config)

    assert transform.last_record.status.value == "skipped"
