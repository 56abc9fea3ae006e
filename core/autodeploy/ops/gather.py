"""``autodeploy::gather_logits_before_lm_head``: the hidden states whose logits are needed.

Generation samples from one position per sequence, so the final projection onto the vocabulary
(the largest matrix product of a small model) needs only those rows. ``gather_logits_before_lm_head``
(the transform) puts this op before the lm_head:

- ``token_index=None`` (an uncached graph, one sequence per row): each row's last position,
  ``hidden[:, -1:]`` -> ``[batch, 1, hidden]``;
- ``token_index`` given (a cached graph's packed step, ``[1, T, hidden]``, with the step's
  ``last_token_index``): row i of the result is sequence i's last new token -> ``[1, num_seqs, hidden]``,
  so logits row i belongs to sequence i, whatever mix of prefill chunks and decodes the step holds.

``insert_cached_attention`` wires ``last_token_index`` in when it makes the graph cached.
Importing this module registers the op.
"""

from __future__ import annotations

from typing import Optional

import torch


@torch.library.custom_op("autodeploy::gather_logits_before_lm_head", mutates_args=())
def gather_logits_before_lm_head(hidden: torch.Tensor, token_index: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The rows of `hidden` ``[batch, seq, dim]`` whose logits are needed (see the module docstring)."""
    if token_index is None:
        return hidden[:, -1:].clone()
    if hidden.shape[0] != 1:
        raise ValueError(f"token_index selects from a packed step (batch 1), got hidden of shape {tuple(hidden.shape)}")
    if token_index.shape[0] == hidden.shape[1]:
        return hidden.clone()  # every position is asked for (a decode-only step): no gather
    return hidden.index_select(1, token_index)


@gather_logits_before_lm_head.register_fake
def _gather_logits_before_lm_head_fake(
    hidden: torch.Tensor, token_index: Optional[torch.Tensor] = None
) -> torch.Tensor:
    rows = 1 if token_index is None else token_index.shape[0]
    return hidden.new_empty((hidden.shape[0], rows, *hidden.shape[2:]))


def gather_logits_op() -> torch._ops.OpOverload:
    """The default overload of ``autodeploy::gather_logits_before_lm_head`` (what graphs call)."""
    return torch.ops.autodeploy.gather_logits_before_lm_head.default


__all__ = ["gather_logits_before_lm_head", "gather_logits_op"]
