"""The source attention ops (uncached): what matchers turn a model's attention code into.

``torch_attention`` works in bsnd layout (``[batch, seq, heads, head_dim]``), AutoDeploy's
canonical layout, which the cached backends take over unchanged. ``torch_attention_sdpa`` is the
same computation in the bnsd layout of ``scaled_dot_product_attention`` (what the model code
computes in), an intermediate form between the matchers. Both support grouped-query attention
(k/v with fewer heads than q), a scale, causal masking, a sliding window and logit soft-capping.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def attend_bnsd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: Optional[torch.Tensor],
    is_causal: bool,
    scale: Optional[float],
    sliding_window: Optional[int],
    logit_cap: Optional[float],
    past: Optional[int] = None,
) -> torch.Tensor:
    """Attention of q ``[b, n, s_q, d]`` over k/v ``[b, n_kv, s_k, d]``; query i sits at position
    ``past + i`` and key j at position j (by default ``past = s_k - s_q``: the queries are the
    last ones, as in a causal continuation)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    plain = logit_cap is None and sliding_window is None and attn_mask is None
    if plain and (not is_causal or q.shape[-2] == k.shape[-2]):
        return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=scale, enable_gqa=True)
    n_rep = q.shape[1] // k.shape[1]
    if n_rep > 1:
        k = k.repeat_interleave(n_rep, dim=1)
        v = v.repeat_interleave(n_rep, dim=1)
    scores = torch.matmul(q, k.transpose(-1, -2)).float() * scale
    if logit_cap is not None:
        scores = logit_cap * torch.tanh(scores / logit_cap)
    allowed = None
    if is_causal or sliding_window is not None:
        past = k.shape[-2] - q.shape[-2] if past is None else past
        query_pos = torch.arange(q.shape[-2], device=q.device)[:, None] + past
        key_pos = torch.arange(k.shape[-2], device=q.device)[None, :]
        allowed = key_pos <= query_pos if is_causal else (key_pos >= 0) & (query_pos >= 0)
        if sliding_window is not None:
            allowed = allowed & (key_pos > query_pos - sliding_window)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            allowed = attn_mask if allowed is None else allowed & attn_mask
        else:
            scores = scores + attn_mask.float()
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(v.dtype)
    return torch.matmul(probs, v)


@torch.library.custom_op("autodeploy::torch_attention_sdpa", mutates_args=())
def torch_attention_sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: Optional[torch.Tensor] = None,
    dropout_p: float = 0.0,
    is_causal: bool = True,
    scale: Optional[float] = None,
    sliding_window: Optional[int] = None,
    logit_cap: Optional[float] = None,
) -> torch.Tensor:
    """Attention in bnsd layout (``[batch, heads, seq, head_dim]``); inference only (no dropout)."""
    return attend_bnsd(q, k, v, attn_mask, is_causal, scale, sliding_window, logit_cap).contiguous()


@torch_attention_sdpa.register_fake
def _torch_attention_sdpa_fake(
    q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True, scale=None, sliding_window=None, logit_cap=None
):
    return q.new_empty((*q.shape[:-1], v.shape[-1]))


@torch.library.custom_op("autodeploy::torch_attention", mutates_args=())
def torch_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: Optional[torch.Tensor] = None,
    dropout_p: float = 0.0,
    is_causal: bool = True,
    scale: Optional[float] = None,
    sliding_window: Optional[int] = None,
    logit_cap: Optional[float] = None,
) -> torch.Tensor:
    """Attention in bsnd layout (``[batch, seq, heads, head_dim]``): AutoDeploy's source attention op."""
    out = attend_bnsd(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask, is_causal, scale, sliding_window, logit_cap
    )
    return out.transpose(1, 2).contiguous()


@torch_attention.register_fake
def _torch_attention_fake(
    q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True, scale=None, sliding_window=None, logit_cap=None
):
    return q.new_empty((*q.shape[:-1], v.shape[-1]))


@torch.library.custom_op("autodeploy::torch_repeat_kv", mutates_args=())
def torch_repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Repeat each of the k/v heads `n_rep` times: ``[b, n_kv, s, d] -> [b, n_kv * n_rep, s, d]``."""
    return x.repeat_interleave(n_rep, dim=1)


@torch_repeat_kv.register_fake
def _torch_repeat_kv_fake(x, n_rep):
    b, n, s, d = x.shape
    return x.new_empty((b, n * n_rep, s, d))
