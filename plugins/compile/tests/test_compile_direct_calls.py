"""torch-simple's call rewrites (`autodeploy_compile.direct_calls`): same results, fewer costs.

Float32 CPU linears run over weights packed for oneDNN (`packed_linear`, in place of the plain
weights; `skinny_linear`, ``weight @ x.T``, where torch has no oneDNN), export's metadata
assertions and same-dtype casts are dropped; the transform's details count them, and the
rewritten graph computes what the exported one did, also after a copy or a save and load.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from autodeploy_compile.direct_calls import call_ops_directly
from autodeploy_compile.packed_linear import PackedWeight, packed_linear, packing_available, use_packed_linears
from autodeploy_compile.skinny_linear import SKINNY_MAX_ROWS, skinny_linear, use_skinny_linears
from autodeploy_compile.transform import CompileModel
from torch import nn

from autodeploy import CachedSequenceInterface, SharedConfig

# fp32 sums of 64-256 products accumulated in a different order: a few ulps of the result's size.
FP32 = dict(rtol=1e-5, atol=1e-5)
needs_onednn = pytest.mark.skipif(not packing_available(), reason="this torch build has no oneDNN linear reorder")
LINEAR_KERNEL = packed_linear if packing_available() else skinny_linear


class TinyLM(nn.Module):
    def __init__(self, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.embed = nn.Embedding(50, 64, dtype=dtype)
        self.up = nn.Linear(64, 256, dtype=dtype)
        self.down = nn.Linear(256, 64, bias=False, dtype=dtype)
        self.head = nn.Linear(64, 50, bias=False, dtype=dtype)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(input_ids)
        hidden = hidden + self.down(F.silu(self.up(hidden)))
        return self.head(hidden.to(self.head.weight.dtype))  # export: a metadata assertion and a cast


def exported(model: nn.Module, ids: torch.Tensor) -> torch.fx.GraphModule:
    batch = torch.export.Dim("batch", min=1, max=64)
    seq = torch.export.Dim("seq", min=1, max=64)
    return torch.export.export(model, (ids,), dynamic_shapes=({0: batch, 1: seq},)).module()


def linear_targets(gm: torch.fx.GraphModule) -> list[object]:
    kernels = (torch.ops.aten.linear.default, skinny_linear, packed_linear)
    return [n.target for n in gm.graph.nodes if n.op == "call_function" and n.target in kernels]


@pytest.mark.parametrize("rows", [1, 2, 5, SKINNY_MAX_ROWS, SKINNY_MAX_ROWS + 8])
@pytest.mark.parametrize("with_bias", [True, False])
def test_skinny_linear_equals_f_linear(rows, with_bias):
    torch.manual_seed(rows)
    weight = torch.randn(96, 48)
    bias = torch.randn(96) if with_bias else None
    x = torch.randn(rows, 48)
    result = skinny_linear(x, weight, bias)
    assert result.shape == (rows, 96) and result.is_contiguous()
    torch.testing.assert_close(result, F.linear(x, weight, bias), **FP32)


def test_skinny_linear_keeps_leading_dimensions_and_reads_strided_inputs():
    torch.manual_seed(0)
    weight, bias = torch.randn(32, 16), torch.randn(32)
    x = torch.randn(3, 16, 2)[..., 0]  # [3, 16], not contiguous
    batched = torch.randn(2, 3, 16)
    torch.testing.assert_close(skinny_linear(x, weight, bias), F.linear(x, weight, bias), **FP32)
    result = skinny_linear(batched, weight, bias)
    assert result.shape == (2, 3, 32)
    torch.testing.assert_close(result, F.linear(batched, weight, bias), **FP32)
    empty = torch.randn(0, 16)
    assert skinny_linear(empty, weight, bias).shape == (0, 32)


def test_skinny_linears_take_only_float32_weights_held_by_the_graph():
    ids = torch.randint(0, 50, (2, 4))
    gm = exported(TinyLM().eval(), ids)
    assert linear_targets(gm) == [torch.ops.aten.linear.default] * 3
    assert use_skinny_linears(gm) == 3
    assert linear_targets(gm) == [skinny_linear] * 3

    bf16 = exported(TinyLM(torch.bfloat16).eval(), ids)
    assert use_skinny_linears(bf16) == 0
    assert linear_targets(bf16) == [torch.ops.aten.linear.default] * 3

    class WeightAsInput(nn.Module):
        def forward(self, x, weight):
            return F.linear(x, weight)

    given = torch.export.export(WeightAsInput(), (torch.randn(2, 8), torch.randn(4, 8))).module()
    assert use_skinny_linears(given) == 0


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (4, 1), (8, 20)])
def test_rewritten_graph_computes_what_the_export_did(shape):
    torch.manual_seed(0)
    model = TinyLM().eval()
    gm = exported(model, torch.randint(0, 50, (2, 4)))
    ids = torch.randint(0, 50, shape)
    with torch.no_grad():
        expected = gm(ids)
        counts = call_ops_directly(gm)
        result = gm(ids)
    assert counts["packed_linears" if packing_available() else "skinny_linears"] == 3
    assert counts["removed_nodes"] == 2  # export's metadata assertion and its same-dtype cast
    assert linear_targets(gm) == [LINEAR_KERNEL] * 3
    torch.testing.assert_close(result, expected, **FP32)


def test_torch_simple_reports_the_rewrites_in_its_details():
    torch.manual_seed(0)
    gm = exported(TinyLM().eval(), torch.randint(0, 50, (2, 4)))
    transform = CompileModel.from_kwargs(stage="compile", run_per_gm=False, backend="torch-simple")
    cm = CachedSequenceInterface(max_seq_len=16, max_batch_size=4, device="cpu")
    result = transform(gm, cm, None, SharedConfig())
    assert result is gm
    assert linear_targets(gm) == [LINEAR_KERNEL] * 3
    details = transform.last_record.info.details
    assert details["packed_linears"] + details["skinny_linears"] == 3
    assert details["packed_linears"] == (3 if packing_available() else 0)


@needs_onednn
@pytest.mark.parametrize("shape", [(1, 96), (3, 96), (8, 96), (40, 96), (2, 5, 96), (0, 96)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_packed_linear_equals_f_linear(shape, with_bias):
    torch.manual_seed(len(shape) + shape[0])
    weight = torch.randn(48, 96)
    bias = torch.randn(48) if with_bias else None
    x = torch.randn(*shape)
    packed = PackedWeight(weight)
    torch.testing.assert_close(packed.dense(), weight, rtol=0, atol=0)  # the packing loses nothing
    torch.testing.assert_close(packed_linear(x, packed, bias), F.linear(x, weight, bias), **FP32)


@needs_onednn
def test_bfloat16_graphs_run_packed_too():
    torch.manual_seed(0)
    gm = exported(TinyLM(torch.bfloat16).eval(), torch.randint(0, 50, (2, 4)))
    ids = torch.randint(0, 50, (1, 3))
    with torch.no_grad():
        expected = gm(ids)
        assert use_packed_linears(gm) == 3
        gm.recompile()
        result = gm(ids)
    assert linear_targets(gm) == [packed_linear] * 3
    assert result.dtype == torch.bfloat16
    # bf16 rounding of outputs of size ~10 (8 significant bits), summed in another order
    torch.testing.assert_close(result, expected, rtol=2e-2, atol=5e-2)


@needs_onednn
def test_packed_weights_replace_the_plain_ones_and_survive_copies_and_saves(tmp_path):
    torch.manual_seed(0)
    model = TinyLM().eval()
    model.head.weight = model.embed.weight  # tied, as in SmolLM2: the embedding still reads it
    gm = exported(model, torch.randint(0, 50, (2, 4)))
    ids = torch.randint(0, 50, (3, 6))
    with torch.no_grad():
        expected = gm(ids)
    plain_bytes = sum(p.numel() * p.element_size() for p in gm.parameters())
    original_state = {name: value.clone() for name, value in gm.state_dict().items()}
    assert use_packed_linears(gm) == 3
    gm.recompile()
    names = {name for name, _ in gm.named_parameters()}
    assert "up.weight" not in names and "down.weight" not in names  # replaced, not kept beside
    assert "embed.weight" in names and "up.bias" in names
    packed = [v for v in vars(gm).values() if isinstance(v, PackedWeight)]
    assert sorted(p.shape for p in packed) == [(50, 64), (64, 256), (256, 64)]
    assert sum(p.numel() * p.element_size() for p in gm.parameters()) == plain_bytes - (256 * 64 * 2) * 4
    # state_dict still names every weight, with its values; load_state_dict packs what it gets
    state = gm.state_dict()
    assert set(state) == set(original_state)
    for name, value in original_state.items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0)
    gm.load_state_dict({**original_state, "up.weight": original_state["up.weight"] * 2}, strict=True)
    assert gm.state_dict()["up.weight"].equal(original_state["up.weight"] * 2)
    with torch.no_grad():
        assert not torch.allclose(gm(ids), expected, atol=1e-3)  # the loaded weight is the one used
    gm.load_state_dict(original_state)
    with torch.no_grad():
        torch.testing.assert_close(gm(ids), expected, **FP32)
        torch.testing.assert_close(copy.deepcopy(gm)(ids), expected, **FP32)
    # (export's own unflattened module cannot be pickled: save the packed weights themselves)
    torch.save({"weights": packed}, tmp_path / "packed.pt")
    loaded = torch.load(tmp_path / "packed.pt", weights_only=False)["weights"]
    for before, after in zip(packed, loaded, strict=True):
        assert isinstance(after, PackedWeight) and after.shape == before.shape
        torch.testing.assert_close(after.dense(), before.dense(), rtol=0, atol=0)
    assert repr(packed[0]).startswith("PackedWeight(shape=")


def test_packed_linears_leave_float16_and_weights_given_as_inputs():
    ids = torch.randint(0, 50, (2, 4))
    fp16 = exported(TinyLM(torch.float16).eval(), ids)
    assert use_packed_linears(fp16) == 0
    assert linear_targets(fp16) == [torch.ops.aten.linear.default] * 3

    class WeightAsInput(nn.Module):
        def forward(self, x, weight):
            return F.linear(x, weight)

    given = torch.export.export(WeightAsInput(), (torch.randn(2, 8), torch.randn(4, 8))).module()
    assert use_packed_linears(given) == 0
