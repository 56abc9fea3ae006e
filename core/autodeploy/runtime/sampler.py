"""Pick each sequence's next token from its logits row: greedy, or sampled with its own generator.

A request's samples must not depend on which other requests share its step: each sampling
request owns a `torch.Generator` seeded once (from its seed, or at random), and its row is
filtered and drawn on its own. Greedy rows (temperature 0 or top_k 1) are one batched argmax.

torch is imported inside the functions: `import autodeploy` stays torch-free.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

from .sampling_params import SamplingParams

if TYPE_CHECKING:
    import torch


def new_generator(params: SamplingParams, device: torch.device | str) -> Optional[torch.Generator]:
    """The request's generator (None for greedy requests, which draw nothing)."""
    import torch

    if params.greedy:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(params.seed if params.seed is not None else secrets.randbits(63))
    return generator


def sample_tokens(
    logits: torch.Tensor,
    params: Sequence[SamplingParams],
    generators: Sequence[Optional[torch.Generator]],
) -> list[int]:
    """The next token of each row of `logits` ``[n, vocab]``, by that row's params and generator."""
    import torch

    if logits.dim() != 2 or logits.shape[0] != len(params) or len(params) != len(generators):
        raise ValueError(
            f"expected [{len(params)}, vocab] logits for {len(params)} requests, got {tuple(logits.shape)}"
        )
    tokens: list[Optional[int]] = [None] * len(params)
    greedy_rows = [i for i, p in enumerate(params) if p.greedy]
    if greedy_rows:
        rows = logits if len(greedy_rows) == len(params) else logits[greedy_rows]
        chosen = rows.argmax(dim=-1).tolist()
        for row, token in zip(greedy_rows, chosen, strict=True):
            tokens[row] = int(token)
    sampled_rows = [row for row, p in enumerate(params) if not p.greedy]
    drawn = []
    for row in sampled_rows:
        probs = _filtered_probabilities(logits[row].float(), params[row])
        drawn.append(int(torch.multinomial(probs, 1, generator=generators[row]).item()))
    if sampled_rows:
        # tensor parallelism: every rank must feed the same tokens on; rank 0's draws count
        from ..distributed import agree_with_main_rank

        for row, token in zip(sampled_rows, agree_with_main_rank(drawn, logits.device), strict=True):
            tokens[row] = token
    return [int(token) for token in tokens if token is not None]


def _filtered_probabilities(row: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """softmax(row / temperature) restricted to the top-k and then the top-p tokens."""
    import torch

    scaled = row / params.temperature
    if params.top_k is not None and 0 < params.top_k < scaled.shape[-1]:
        kth = torch.topk(scaled, params.top_k).values[-1]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # drop a token when the more likely ones already reach top_p (the first one always stays)
        drop_sorted = (cumulative - sorted_probs) >= params.top_p
        drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum()
    return probs
