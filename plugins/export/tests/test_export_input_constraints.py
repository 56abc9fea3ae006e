"""``cleanup_input_constraints``: the exported graph's input check stops refusing longer steps."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from autodeploy_export.cleanup_transforms import CleanupInputConstraints  # noqa: E402

from autodeploy import CachedSequenceInterface, SharedConfig, TransformStatus, get_history  # noqa: E402


class Embed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 4)

    def forward(self, input_ids):
        return self.emb(input_ids).sum(-1)


class EmbedTokens(Embed):
    def forward(self, tokens):
        return super().forward(tokens)


def _exported(name: str = "input_ids"):
    batch, seq = torch.export.Dim("batch", min=1, max=4), torch.export.Dim("seq", min=1, max=8)
    module = Embed() if name == "input_ids" else EmbedTokens()
    program = torch.export.export(
        module, (), {name: torch.zeros(2, 3, dtype=torch.long)}, dynamic_shapes={name: {0: batch, 1: seq}}
    )
    return program.module(check_guards=False)


def test_sequence_dims_are_widened_to_their_product_times_1000():
    gm = _exported()
    long_step = torch.zeros(1, 20, dtype=torch.long)
    with pytest.raises(RuntimeError, match="to be <= 8"):
        gm(input_ids=long_step)
    transform = CleanupInputConstraints.from_kwargs(stage="post_export")
    gm = transform(gm, CachedSequenceInterface(max_seq_len=8, max_batch_size=4), None, SharedConfig())
    assert sorted((int(r.lower), int(r.upper)) for r in gm.range_constraints.values()) == [(1, 32000), (1, 32000)]
    assert gm(input_ids=long_step).shape == (1, 20)
    record = get_history(gm)[-1]
    assert (record.key, record.status, record.num_matches) == ("cleanup_input_constraints", TransformStatus.APPLIED, 2)


def test_a_graph_without_a_sequence_input_is_left_alone():
    gm = _exported("tokens")
    before = dict(gm.range_constraints)
    transform = CleanupInputConstraints.from_kwargs(stage="post_export")
    gm = transform(gm, CachedSequenceInterface(max_seq_len=8), None, SharedConfig())
    assert gm.range_constraints == before
    assert get_history(gm)[-1].status is TransformStatus.SKIPPED
