"""The canonical attention ops: the source op against a plain reference, and the torch backend's
cached op over packed steps (prefill, decode, mixed) against the source op on whole sequences."""

from __future__ import annotations

import math

import pytest
import torch

import autodeploy.ops  # noqa: F401 - registers torch.ops.autodeploy

ops = torch.ops.autodeploy


def reference_attention(q, k, v, scale=None, sliding_window=None, logit_cap=None):
    """Straightforward causal attention in bsnd, one head at a time (slow and obviously right)."""
    batch, seq, heads, dim = q.shape
    group = heads // k.shape[2]
    scale = dim**-0.5 if scale is None else scale
    out = torch.zeros(batch, seq, heads, v.shape[-1], dtype=torch.float64)
    for b in range(batch):
        for h in range(heads):
            scores = q[b, :, h].double() @ k[b, :, h // group].double().T * scale
            if logit_cap is not None:
                scores = logit_cap * torch.tanh(scores / logit_cap)
            for i in range(seq):
                for j in range(seq):
                    if j > i or (sliding_window is not None and j <= i - sliding_window):
                        scores[i, j] = -math.inf
            out[b, :, h] = torch.softmax(scores, -1) @ v[b, :, h // group].double()
    return out.float()


def qkv(batch, seq, heads=4, kv_heads=2, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, seq, heads, dim, generator=g),
        torch.randn(batch, seq, kv_heads, dim, generator=g),
        torch.randn(batch, seq, kv_heads, dim, generator=g),
    )


@pytest.mark.parametrize(
    "options", [{}, {"scale": 0.3}, {"sliding_window": 3}, {"logit_cap": 2.0}, {"sliding_window": 4, "logit_cap": 1.5}]
)
def test_source_attention_is_causal_grouped_attention(options):
    q, k, v = qkv(2, 7)
    got = ops.torch_attention(q, k, v, None, 0.0, True, **options)
    torch.testing.assert_close(got, reference_attention(q, k, v, **options), atol=1e-5, rtol=1e-5)
    # the bnsd form computes the same
    bnsd = ops.torch_attention_sdpa(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), None, 0.0, True, **options)
    torch.testing.assert_close(bnsd.transpose(1, 2), got, atol=1e-6, rtol=1e-6)


def test_ops_have_fake_implementations_for_export():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        q, k, v = torch.empty(1, 5, 4, 8), torch.empty(1, 5, 2, 8), torch.empty(1, 5, 2, 8)
        assert ops.torch_attention(q, k, v).shape == (1, 5, 4, 8)
        assert ops.torch_repeat_kv(k.transpose(1, 2), 2).shape == (1, 4, 5, 8)
        caches = torch.empty(3, 16, 2, 8), torch.empty(3, 16, 2, 8)
        meta = [torch.empty(2, dtype=torch.long)] * 4
        assert ops.torch_cached_attention(q, k, v, *meta, *caches).shape == (1, 5, 4, 8)


class PackedRunner:
    """Feeds whole sequences through the cached op in steps, slot by slot, like a runtime."""

    def __init__(self, slots=4, max_len=24, kv_heads=2, dim=8, **options):
        # stale values (what a slot's previous sequence left) must not leak into the result
        self.k_cache = torch.full((slots, max_len, kv_heads, dim), 1e4)
        self.v_cache = torch.full((slots, max_len, kv_heads, dim), -1e4)
        self.options = options

    def step(self, parts):
        """parts: (q, k, v, input_pos, slot) per sequence, q/k/v ``[n, heads, dim]``."""
        q = torch.cat([p[0] for p in parts])[None]
        k = torch.cat([p[1] for p in parts])[None]
        v = torch.cat([p[2] for p in parts])[None]
        lengths = [p[0].shape[0] for p in parts]
        starts = [sum(lengths[:i]) for i in range(len(parts))]
        meta = [torch.tensor(x) for x in (lengths, [p[3] for p in parts], [p[4] for p in parts], starts)]
        out = ops.torch_cached_attention(q, k, v, *meta, self.k_cache, self.v_cache, **self.options)[0]
        return [out[s : s + n] for s, n in zip(starts, lengths, strict=True)]


@pytest.mark.parametrize("options", [{}, {"sliding_window": 3}, {"logit_cap": 2.0}])
def test_cached_attention_over_mixed_steps_equals_attention_on_whole_sequences(options):
    runner = PackedRunner(**options)
    a, b = qkv(1, 9, seed=1), qkv(1, 6, seed=2)
    expected_a = ops.torch_attention(*a, None, 0.0, True, **options)[0]
    expected_b = ops.torch_attention(*b, None, 0.0, True, **options)[0]

    def part(t, lo, hi, slot):
        return (t[0][0, lo:hi], t[1][0, lo:hi], t[2][0, lo:hi], lo, slot)

    got_a, got_b = [], []
    (x,) = runner.step([part(a, 0, 5, 2)])  # prefill of a
    got_a.append(x)
    x, y = runner.step([part(a, 5, 6, 2), part(b, 0, 4, 0)])  # a decodes while b prefills
    got_a.append(x), got_b.append(y)
    y, x = runner.step([part(b, 4, 5, 0), part(a, 6, 7, 2)])  # decode only, two sequences
    got_b.append(y), got_a.append(x)
    x, y = runner.step([part(a, 7, 9, 2), part(b, 5, 6, 0)])  # a chunk of two after a cache
    got_a.append(x), got_b.append(y)
    torch.testing.assert_close(torch.cat(got_a), expected_a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat(got_b), expected_b, atol=1e-5, rtol=1e-5)


def test_a_reused_slot_starts_afresh_at_position_zero():
    runner = PackedRunner()
    first, second = qkv(1, 8, seed=3), qkv(1, 4, seed=4)
    runner.step([(first[0][0], first[1][0], first[2][0], 0, 1)])
    (got,) = runner.step([(second[0][0, :3], second[1][0, :3], second[2][0, :3], 0, 1)])
    (last,) = runner.step([(second[0][0, 3:], second[1][0, 3:], second[2][0, 3:], 3, 1)])
    expected = ops.torch_attention(*second)[0]
    torch.testing.assert_close(torch.cat([got, last]), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("options", [{}, {"sliding_window": 3}, {"logit_cap": 2.0}])
@pytest.mark.parametrize("slots", [(1, 2, 3), (3, 0, 2)])
def test_batched_decode_in_consecutive_or_scattered_slots(options, slots):
    """Sequences of different lengths decode together; consecutive slots are read as views of the
    caches, scattered ones gathered: both mask each sequence's stale tail and equal attention on
    the whole sequences."""
    runner = PackedRunner(**options)
    sequences = [qkv(1, n, seed=10 + n) for n in (9, 4, 7)]
    prompt_lens = (5, 2, 4)
    got = [[] for _ in sequences]
    for i, (seq, n, slot) in enumerate(zip(sequences, prompt_lens, slots, strict=True)):
        (x,) = runner.step([(seq[0][0, :n], seq[1][0, :n], seq[2][0, :n], 0, slot)])
        got[i].append(x)
    for step in range(2):  # every sequence one token at a time, all in one step
        parts = [
            (
                seq[0][0, n + step : n + step + 1],
                seq[1][0, n + step : n + step + 1],
                seq[2][0, n + step : n + step + 1],
                n + step,
                slot,
            )
            for seq, n, slot in zip(sequences, prompt_lens, slots, strict=True)
        ]
        for i, x in enumerate(runner.step(parts)):
            got[i].append(x)
    for i, (seq, n) in enumerate(zip(sequences, prompt_lens, strict=True)):
        expected = ops.torch_attention(*seq, None, 0.0, True, **options)[0][: n + 2]
        torch.testing.assert_close(torch.cat(got[i]), expected, atol=1e-5, rtol=1e-5)
