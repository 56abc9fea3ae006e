"""`AttentionBackend`: what an attention backend plugin provides to the cache_init stage.

A backend turns the source attention op (``autodeploy::torch_attention``, bsnd, uncached) into
cached attention over the sequence interface's packed step. It says three things:

- its **cached op** (`cached_attention_op`), called as
  ``op(q, k, v, *metadata, *caches, scale, sliding_window, logit_cap)`` with q/k/v ``[1, T, heads,
  head_dim]`` (every new token of the step packed in one row) and returning ``[1, T, heads, head_dim]``;
- the **per-step metadata** it reads (`metadata`, names from `autodeploy.interface.METADATA_NAMES`),
  which ``insert_cached_attention`` asks of the interface (``cm.add_graph_input``);
- its **cache layout** (`cache_kinds`, `allocate_cache`): the caches of one attention layer,
  which ``insert_cached_attention`` registers (``cm.add_cache``) and ``initialize_cache``
  allocates on the device.

Plugins register instances through ``autodeploy_register_attention_backends``. This module is
torch-free; a backend imports torch inside its methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class AttentionBackend:
    """Base class of attention backends (subclass it and register an instance)."""

    #: the per-step metadata the cached op takes after q, k, v, in this order
    metadata: tuple[str, ...] = ("seq_len", "input_pos", "cache_loc", "seq_start")
    #: the caches of one attention layer, in the order the cached op takes them after the metadata
    cache_kinds: tuple[str, ...] = ("k_cache", "v_cache")

    def cached_attention_op(self) -> Any:
        """The cached attention op (a torch op or any callable fx can call)."""
        raise NotImplementedError

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
        """One cache of one layer (`kind` from `cache_kinds`) for `num_slots` sequences of up to
        `max_seq_len` tokens. Fresh caches hold finite values (zeros): masked entries are read."""
        raise NotImplementedError

    def cache_name(self, kind: str, layer: int) -> str:
        """The graph input name of a layer's cache: ``k_cache_0``, ``v_cache_0``, ..."""
        return f"{kind}_{layer}"
