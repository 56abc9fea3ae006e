"""The post-export cleanups on graphs that torch.export really produces from small modules."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from autodeploy_export.cleanup_transforms import CleanupNoopAdd, CleanupNoopSlice, CleanupUnusedInputs  # noqa: E402
from autodeploy_export.graph_cleanups.noop_add import remove_noop_adds  # noqa: E402
from autodeploy_export.graph_cleanups.noop_slice import remove_noop_slices  # noqa: E402
from autodeploy_export.graph_cleanups.unused_inputs import remove_unused_inputs  # noqa: E402

from autodeploy import CachedSequenceInterface, SharedConfig, TransformStatus, get_history  # noqa: E402

BATCH = torch.export.Dim("batch", min=1, max=16)


def _export(module, *args, dynamic_batch=True, **kwargs):
    dynamic = None
    if dynamic_batch:
        dynamic = {name: {0: BATCH} for name in kwargs} if kwargs else tuple({0: BATCH} for _ in args)
    program = torch.export.export(module, args, kwargs or None, dynamic_shapes=dynamic)
    return program.module(check_guards=False)


def _count(gm, target) -> int:
    return len(gm.graph.find_nodes(op="call_function", target=target))


SLICE = torch.ops.aten.slice.Tensor
INT64_MAX = 2**63 - 1
ADD = torch.ops.aten.add.Tensor


class WholeSlices(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, n):
        y = self.linear(x[:, :])  # whole dimension 0: slice(x, 0, 0, INT64_MAX)
        z = y[: n.shape[0]]  # ends at a size export proved equal to y's: slice(y, 0, None, sym_size(n))
        return z[:, 1:] * 2  # a real slice: must stay


def test_noop_slices_are_removed_and_counted_and_real_ones_kept():
    module = WholeSlices()
    unbounded = torch.export.Dim("rows")  # with no upper bound torch keeps the slices as slices
    program = torch.export.export(
        module, (torch.randn(3, 4), torch.randn(3)), dynamic_shapes=({0: unbounded}, {0: unbounded})
    )
    gm = program.module(check_guards=False)
    # x[:, :] -> dim 0 whole; y[:n] -> dim 0 to n's size; z[:, 1:] -> dim 0 whole, then dim 1 from 1
    assert [node.args[1:] for node in gm.graph.find_nodes(op="call_function", target=SLICE)] == [
        (0, 0, INT64_MAX),
        (0, None, gm.graph.find_nodes(op="call_function", target=torch.ops.aten.sym_size.int)[0]),
        (0, 0, INT64_MAX),
        (1, 1, INT64_MAX),
    ]
    x, n = torch.randn(5, 4), torch.randn(5)
    expected = module(x, n)

    assert remove_noop_slices(gm) == 3

    kept = gm.graph.find_nodes(op="call_function", target=SLICE)
    assert [node.args[1:3] for node in kept] == [(1, 1)]  # only `[:, 1:]` is left
    torch.testing.assert_close(gm(x, n), expected, rtol=0, atol=0)
    assert remove_noop_slices(gm) == 0  # nothing left to do


def test_whole_slices_that_torch_recorded_as_alias_are_removed():
    module = WholeSlices()
    gm = _export(module, torch.randn(3, 4), torch.randn(3))  # bounded batch: torch emits aten.alias
    aliases, slices = _count(gm, torch.ops.aten.alias.default), _count(gm, SLICE)
    assert aliases >= 1
    x, n = torch.randn(5, 4), torch.randn(5)
    expected = module(x, n)

    removed = remove_noop_slices(gm)

    assert _count(gm, torch.ops.aten.alias.default) == 0
    assert [node.args[1:3] for node in gm.graph.find_nodes(op="call_function", target=SLICE)] == [(1, 1)]
    assert removed == aliases + slices - 1  # every alias and no-op slice, counted
    torch.testing.assert_close(gm(x, n), expected, rtol=0, atol=0)


class ZeroAdds(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, ids):
        h = self.linear(x + 0)  # scalar zero: removed
        h = h + torch.zeros(4)  # zeros of a broadcastable shape, same result shape: removed
        wide = h + torch.zeros(2, 1, 4)  # broadcasting to a bigger shape: kept
        as_float = ids + 0.0  # int64 -> float32: kept
        return wide.sum(0) * 2 + as_float.unsqueeze(-1)


def test_noop_adds_are_removed_only_when_shape_and_dtype_stay():
    module = ZeroAdds()
    args = (torch.randn(3, 4), torch.arange(3))
    gm = _export(module, *args, dynamic_batch=False)
    adds_before = _count(gm, ADD)

    removed = remove_noop_adds(gm)

    assert removed == 2
    assert _count(gm, ADD) == adds_before - 2
    remaining_zero_tensors = gm.graph.find_nodes(op="call_function", target=torch.ops.aten.zeros.default)
    assert len(remaining_zero_tensors) == 1  # the broadcasting one; the other became dead code
    torch.testing.assert_close(gm(*args), module(*args), rtol=0, atol=0)


class ReturnsInputPlusZero(torch.nn.Module):
    def forward(self, x):
        return x + 0


def test_add_that_would_return_the_caller_its_own_input_is_kept():
    gm = _export(ReturnsInputPlusZero(), torch.randn(3, 4))
    assert remove_noop_adds(gm) == 0
    x = torch.randn(2, 4)
    assert gm(x) is not x


class UnusedInputs(torch.nn.Module):
    def forward(self, input_ids, mask, unused):
        return input_ids * 2 + mask


def test_unused_positional_input_is_removed_and_module_stays_callable():
    module = UnusedInputs()
    gm = _export(module, torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4))

    assert remove_unused_inputs(gm) == 1

    assert [n.name for n in gm.graph.find_nodes(op="placeholder")] == ["input_ids", "mask"]
    x, m = torch.randn(2, 4), torch.randn(2, 4)
    torch.testing.assert_close(gm(x, m), x * 2 + m)
    with pytest.raises((TypeError, ValueError)):
        gm(x, m, torch.randn(2, 4))  # the removed input is no longer accepted
    # torch's input check still works against the new signature
    with pytest.raises(RuntimeError, match="<= 16"):
        gm(torch.randn(17, 4), torch.randn(17, 4))


def test_unused_keyword_input_is_removed():
    gm = _export(UnusedInputs(), input_ids=torch.randn(3, 4), mask=torch.randn(3, 4), unused=torch.randn(3, 4))
    assert remove_unused_inputs(gm) == 1
    x, m = torch.randn(2, 4), torch.randn(2, 4)
    torch.testing.assert_close(gm(input_ids=x, mask=m), x * 2 + m)


class NestedInput(torch.nn.Module):
    def forward(self, input_ids, pair):
        return input_ids + pair[0]  # pair[1] unused, but part of an argument that is used


def test_partly_unused_nested_input_is_kept():
    gm = _export(NestedInput(), torch.randn(3, 4), (torch.randn(3, 4), torch.randn(3, 4)), dynamic_batch=False)
    assert remove_unused_inputs(gm) == 0
    x, a, b = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)
    torch.testing.assert_close(gm(x, (a, b)), x + a)


def test_unused_input_of_a_plain_traced_graph_is_removed():
    gm = torch.fx.symbolic_trace(UnusedInputs())
    assert remove_unused_inputs(gm) == 1
    x, m = torch.randn(2, 4), torch.randn(2, 4)
    torch.testing.assert_close(gm(x, m), x * 2 + m)


@pytest.mark.parametrize(
    ("transform_class", "module", "args", "expected_matches"),
    [
        (CleanupNoopSlice, WholeSlices(), (torch.randn(3, 4), torch.randn(3)), None),
        (CleanupNoopAdd, ZeroAdds(), (torch.randn(3, 4), torch.arange(3)), 2),
        (CleanupUnusedInputs, UnusedInputs(), (torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)), 1),
    ],
)
def test_cleanup_transforms_record_their_matches_in_the_pipeline(transform_class, module, args, expected_matches):
    expected = module(*args)
    pipeline = torch.nn.Module()
    pipeline.add_module("factory_model", _export(module, *args, dynamic_batch=False))
    cm = CachedSequenceInterface(max_seq_len=8, max_batch_size=4)

    pipeline = transform_class.from_kwargs(stage="post_export")(pipeline, cm, None, SharedConfig())

    record = get_history(pipeline)[-1]
    assert record.key == transform_class.transform_key
    assert record.status is TransformStatus.APPLIED
    assert record.info.num_matches == (expected_matches if expected_matches is not None else record.info.num_matches)
    assert record.info.num_matches >= 1
    # the base class canonicalised the changed graph: a clean, lint-free graph
    pipeline.factory_model.graph.lint()
    call_args = args[:2] if transform_class is CleanupUnusedInputs else args
    torch.testing.assert_close(pipeline.factory_model(*call_args), expected, rtol=0, atol=0)

    again = transform_class.from_kwargs(stage="post_export")(pipeline, cm, None, SharedConfig())
    info = get_history(again)[-1].info
    assert (info.num_matches, info.is_clean, info.has_valid_shapes) == (0, True, True)
