"""The ``torch`` backend's cached attention op, over AutoDeploy's packed step layout.

A step packs the new tokens of every sequence into one row: q ``[1, T, H, D]`` and k/v
``[1, T, H_kv, D]``. Per sequence the metadata give how many new tokens it has (``seq_len``),
where they start in the row (``seq_start``), the position of the first one (``input_pos``, =
tokens already cached) and its cache slot (``cache_loc``). The caches are
``[max_batch_size, max_seq_len, H_kv, D]``, one pair per layer.

The op writes the new k/v into the caches at (slot, position), then lets each new token attend
over its sequence's cached prefix and the new tokens up to itself. Decode tokens (sequences
with one new token) are handled together in a few batched tensor ops; prefill sequences one by
one (each is a large matrix product anyway). Slots are reused by starting at position 0: what a
previous sequence left behind beyond the current length is never read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

import torch
import torch.nn.functional as F

from .attention import attend_bnsd


@contextmanager
def serial_section() -> Iterator[None]:
    """Run the enclosed small ops on one thread.

    A decode step's attention is a few microseconds of work per op, yet torch splits ops such as
    ``softmax`` and batched matrix products across its intra-op threads; waking the other
    threads costs more than the work, and on a busy machine (threads descheduled) a parallel
    region costs milliseconds: measured on the 2-core CI machine under load, one decode
    attention took ~0.6 ms with 2 threads and ~0.07 ms with one. Switching the thread count is
    ~0.4 us; the large matrix products around the attention keep every thread.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _write_cache(
    k: torch.Tensor,
    v: torch.Tensor,
    seq_len: torch.Tensor,
    input_pos: torch.Tensor,
    cache_loc: torch.Tensor,
    seq_start: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
) -> None:
    """Scatter the step's new k/v (``[T, H_kv, D]``) into the caches at (slot, position)."""
    num_tokens = k.shape[0]
    if num_tokens == seq_len.shape[0]:  # decode only: token i is sequence i
        slots, positions = cache_loc, input_pos
    else:
        owner = torch.repeat_interleave(
            torch.arange(seq_len.shape[0], device=k.device), seq_len, output_size=num_tokens
        )
        offsets = torch.arange(num_tokens, device=k.device) - seq_start[owner]
        slots, positions = cache_loc[owner], input_pos[owner] + offsets
    k_cache.index_put_((slots, positions), k.to(k_cache.dtype))
    v_cache.index_put_((slots, positions), v.to(v_cache.dtype))


def _decode(
    q: torch.Tensor,
    input_pos: torch.Tensor,
    cache_loc: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    scale: float,
    sliding_window: Optional[int],
    logit_cap: Optional[float],
) -> torch.Tensor:
    """One new token per sequence, batched: q ``[B, H, D]`` over each one's cached prefix -> ``[B, H, Dv]``.

    Every sequence attends over the longest prefix of the batch, the keys past its own position
    (and before its sliding window) masked. Sequences in consecutive slots (the runtime's usual
    case) read their caches as views; others are gathered. One SDPA call with a boolean mask does
    the rest: measured for 8 sequences of 48-240 tokens (SmolLM2's 9 heads over 3 k/v heads),
    0.4-0.5 ms a layer against 1.5-3.6 ms for the gather + two matmuls + softmax it replaces. A
    logit cap (tanh of the scores), which SDPA has no place for, keeps the explicit form.
    """
    batch, heads, dim = q.shape
    length = int(input_pos.max()) + 1  # the longest prefix in the batch; shorter ones are masked
    keys, values = _slot_prefixes(cache_loc, length, k_cache, v_cache)  # [B, L, H_kv, D]
    key_pos = torch.arange(length, device=q.device)
    hidden = key_pos[None, :] > input_pos[:, None]
    if sliding_window is not None:
        hidden = hidden | (key_pos[None, :] <= input_pos[:, None] - sliding_window)
    if keys.dtype != q.dtype:
        keys, values = keys.to(q.dtype), values.to(q.dtype)
    if logit_cap is None:
        out = F.scaled_dot_product_attention(
            q.unsqueeze(2),
            keys.transpose(1, 2),
            values.transpose(1, 2),
            attn_mask=~hidden[:, None, None, :],
            scale=scale,
            enable_gqa=True,
        )
        return out.reshape(batch, heads, values.shape[-1])
    kv_heads = k_cache.shape[2]
    # group the query heads by their k/v head: [B, H_kv, G, D] against [B, H_kv, D, L]
    grouped = q.reshape(batch, kv_heads, heads // kv_heads, dim)
    scores = torch.matmul(grouped, keys.permute(0, 2, 3, 1)).float() * scale
    scores = logit_cap * torch.tanh(scores / logit_cap)
    scores = scores.masked_fill(hidden[:, None, None, :], float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(values.dtype)
    out = torch.matmul(probs, values.permute(0, 2, 1, 3))  # [B, H_kv, G, Dv]
    return out.reshape(batch, heads, values.shape[-1])


def _slot_prefixes(
    cache_loc: torch.Tensor, length: int, k_cache: torch.Tensor, v_cache: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `length` cached keys and values of each slot in `cache_loc`: views of the caches
    when the slots are consecutive, gathered copies otherwise."""
    slots = cache_loc.tolist()
    first = slots[0]
    if slots == list(range(first, first + len(slots))):
        end = first + len(slots)
        return k_cache[first:end, :length], v_cache[first:end, :length]
    return k_cache[cache_loc, :length], v_cache[cache_loc, :length]


def _decode_one(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pos: int,
    slot: int,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """One sequence, one new token (batch-1 decode): write its k/v, one SDPA call over the slot's
    prefix (views of the caches, no copies) -> ``[1, 1, H, Dv]``."""
    k_cache[slot, pos].copy_(k[0])
    v_cache[slot, pos].copy_(v[0])
    heads, dim = q.shape[1], q.shape[2]
    keys = k_cache[slot, : pos + 1].transpose(0, 1).unsqueeze(0)  # [1, H_kv, L, D]
    values = v_cache[slot, : pos + 1].transpose(0, 1).unsqueeze(0)
    if keys.dtype != q.dtype:
        keys, values = keys.to(q.dtype), values.to(q.dtype)
    out = F.scaled_dot_product_attention(q.reshape(1, heads, 1, dim), keys, values, scale=scale, enable_gqa=True)
    return out.reshape(1, 1, heads, values.shape[-1])


def _prefill(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    start: int,
    length: int,
    pos: int,
    slot: int,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    scale: float,
    sliding_window: Optional[int],
    logit_cap: Optional[float],
) -> torch.Tensor:
    """One sequence's `length` new tokens (at positions pos..) over its prefix and themselves -> ``[L, H, Dv]``."""
    q_i = q[start : start + length].transpose(0, 1).unsqueeze(0)  # [1, H, L, D]
    if pos == 0:  # nothing cached before: the new k/v are the whole context
        keys, values = k[start : start + length], v[start : start + length]
    else:
        keys, values = k_cache[slot, : pos + length], v_cache[slot, : pos + length]
    keys = keys.transpose(0, 1).unsqueeze(0).to(q.dtype)
    values = values.transpose(0, 1).unsqueeze(0).to(q.dtype)
    if pos == 0 and sliding_window is None and logit_cap is None:
        out = F.scaled_dot_product_attention(q_i, keys, values, is_causal=True, scale=scale, enable_gqa=True)
    else:
        out = attend_bnsd(q_i, keys, values, None, True, scale, sliding_window, logit_cap, past=pos)
    return out[0].transpose(0, 1)


@torch.library.custom_op("autodeploy::torch_cached_attention", mutates_args=("k_cache", "v_cache"))
def torch_cached_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    seq_len: torch.Tensor,
    input_pos: torch.Tensor,
    cache_loc: torch.Tensor,
    seq_start: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    scale: Optional[float] = None,
    sliding_window: Optional[int] = None,
    logit_cap: Optional[float] = None,
) -> torch.Tensor:
    """Cached causal attention of a packed step (bsnd, batch 1): write the new k/v, attend over the caches."""
    if q.shape[0] != 1:
        raise ValueError(f"torch_cached_attention takes a packed step (batch 1), got q of shape {tuple(q.shape)}")
    q0, k0, v0 = q[0], k[0], v[0]
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    num_tokens, num_seqs = q0.shape[0], seq_len.shape[0]
    if num_tokens == num_seqs:  # decode only: a few small ops, on one thread
        with serial_section():
            if num_seqs == 1 and sliding_window is None and logit_cap is None:
                return _decode_one(q0, k0, v0, int(input_pos[0]), int(cache_loc[0]), k_cache, v_cache, scale)
            _write_cache(k0, v0, seq_len, input_pos, cache_loc, seq_start, k_cache, v_cache)
            out = _decode(q0, input_pos, cache_loc, k_cache, v_cache, scale, sliding_window, logit_cap)
            return out.to(q.dtype).unsqueeze(0)
    _write_cache(k0, v0, seq_len, input_pos, cache_loc, seq_start, k_cache, v_cache)
    out = q0.new_empty((num_tokens, q0.shape[1], v0.shape[-1]))
    lengths, starts, positions, slots = (t.tolist() for t in (seq_len, seq_start, input_pos, cache_loc))
    decode = [i for i, n in enumerate(lengths) if n == 1]
    if decode:
        index = torch.tensor([starts[i] for i in decode], device=q.device)
        picked = torch.tensor(decode, device=q.device)
        out[index] = _decode(
            q0[index], input_pos[picked], cache_loc[picked], k_cache, v_cache, scale, sliding_window, logit_cap
        ).to(out.dtype)
    for i, n in enumerate(lengths):
        if n > 1:
            out[starts[i] : starts[i] + n] = _prefill(
                q0, k0, v0, starts[i], n, positions[i], slots[i], k_cache, v_cache, scale, sliding_window, logit_cap
            )
    return out.unsqueeze(0)


@torch_cached_attention.register_fake
def _torch_cached_attention_fake(
    q, k, v, seq_len, input_pos, cache_loc, seq_start, k_cache, v_cache, scale=None, sliding_window=None, logit_cap=None
):
    return q.new_empty((*q.shape[:-1], v.shape[-1]))
