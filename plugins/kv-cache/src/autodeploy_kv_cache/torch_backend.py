"""The ``torch`` attention backend: plain torch ops, runs wherever torch runs (CPU, CUDA).

Its cached op is ``autodeploy::torch_cached_attention`` (see `autodeploy.ops.cached_attention`);
each layer has a K and a V cache of ``[max_batch_size, max_seq_len, kv_heads, head_dim]``, one
row of slots per sequence. Torch-free at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autodeploy import AttentionBackend

if TYPE_CHECKING:
    import torch


class TorchAttentionBackend(AttentionBackend):
    """Cached attention in plain torch over per-sequence cache slots."""

    def cached_attention_op(self) -> Any:
        import torch

        import autodeploy.ops  # noqa: F401 - registers the op

        return torch.ops.autodeploy.torch_cached_attention.default

    def allocate_cache(
        self,
        kind: str,
        num_slots: int,
        max_seq_len: int,
        num_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: str,
    ) -> torch.Tensor:
        import torch

        return torch.zeros((num_slots, max_seq_len, num_kv_heads, head_dim), dtype=dtype, device=device)
