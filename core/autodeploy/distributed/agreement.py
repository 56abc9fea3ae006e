"""Ranks agree on what each picked at random: rank 0's choice is everyone's.

Why: every rank runs the same generation loop over the same requests, and each must feed the
same next token to its part of the model, or the all-reduces sum partial products of different
sequences. Greedy picks agree by themselves (the logits are equal on all ranks after the last
all-reduce and the replicated ``lm_head``), but a sampled token does not: an unseeded request's
generator is seeded at random in each process. Rank 0's sampled tokens are broadcast instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def agree_with_main_rank(tokens: Sequence[int], device: Any = "cpu") -> list[int]:
    """`tokens` as rank 0 has them, on every rank; unchanged outside a process group of several.

    Every rank must call it at the same point with as many tokens (it is a collective).
    """
    import torch
    import torch.distributed as dist

    if not tokens or not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return list(tokens)
    if dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    values = torch.tensor(list(tokens), dtype=torch.long, device=device)
    dist.broadcast(values, src=0)
    return [int(value) for value in values.tolist()]
