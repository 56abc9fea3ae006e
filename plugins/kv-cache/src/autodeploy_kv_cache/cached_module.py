"""The module the cache_init stage leaves behind: called with a step's inputs, or like the model.

``module(**cm.named_args)`` is the runtime's call: the step's packed ``input_ids`` /
``position_ids`` ``[1, T]``, the backend's metadata and every layer's caches; it returns the
logits ``[1, T, vocab]`` and leaves the new keys and values in the caches.

Called like the model instead, ``module(input_ids=[B, L])`` (``run --check``, a plain greedy
loop, compile warm-ups), each row is a whole sequence from position 0: the call runs over
scratch caches of its own (the interface's caches are left alone) and returns ``[B, L, vocab]``,
what the uncached model returns (``[B, 1, vocab]`` when the graph gathers the last tokens' logits,
``gather_logits_before_lm_head``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from autodeploy import AttentionBackend
from autodeploy.graph import logits_of


@dataclass(frozen=True)
class CacheSpec:
    """One cache input of the module: its name, the backend's kind, and the layer's sizes."""

    name: str
    kind: str
    num_kv_heads: int
    head_dim: int
    dtype: torch.dtype

    def allocate(self, backend: AttentionBackend, num_slots: int, max_seq_len: int, device: Any) -> torch.Tensor:
        return backend.allocate_cache(
            self.kind, num_slots, max_seq_len, self.num_kv_heads, self.head_dim, self.dtype, str(device)
        )


class CachedModule(nn.Module):
    """Base of the cached graph / cached transformers module (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        backend: AttentionBackend,
        caches: list[CacheSpec],
        metadata: Optional[tuple[str, ...]] = None,
    ):
        super().__init__()
        self.model = model
        self.backend = backend
        self.cache_specs = list(caches)
        # the step metadata the model takes: the backend's, plus e.g. ``last_token_index`` for a
        # graph that gathers the logits rows it needs
        self.metadata = tuple(backend.metadata if metadata is None else metadata)

    @property
    def cache_names(self) -> list[str]:
        return [spec.name for spec in self.cache_specs]

    def forward(self, input_ids: torch.Tensor, position_ids: Optional[torch.Tensor] = None, **inputs: Any) -> Any:
        missing = [name for name in (*self.metadata, *self.cache_names) if name not in inputs]
        if not missing:
            if position_ids is None:
                raise TypeError("a cached step needs position_ids (cm.named_args holds them)")
            return self._run_step(input_ids, position_ids, inputs)
        if inputs:
            raise TypeError(
                f"{type(self).__name__} takes either a whole step (cm.named_args) or input_ids alone; "
                f"got {sorted(inputs)} without {missing[:3]}"
            )
        return self._whole_sequences(input_ids, position_ids)

    def _run_step(self, input_ids: torch.Tensor, position_ids: torch.Tensor, inputs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _whole_sequences(self, input_ids: torch.Tensor, position_ids: Optional[torch.Tensor]) -> torch.Tensor:
        batch, length = input_ids.shape
        device = input_ids.device
        if position_ids is None:
            position_ids = torch.arange(length, device=device).expand(batch, length)

        def longs(values: range | list[int]) -> torch.Tensor:
            return torch.tensor(list(values), dtype=torch.long, device=device)

        step: dict[str, Any] = {
            "seq_len": longs([length] * batch),
            "input_pos": longs([0] * batch),
            "cache_loc": longs(range(batch)),
            "seq_start": longs(range(0, batch * length, length)),
            "last_token_index": longs(range(length - 1, batch * length, length)),
        }
        step = {name: step[name] for name in self.metadata}
        for spec in self.cache_specs:
            step[spec.name] = spec.allocate(self.backend, batch, length, device)
        packed = self._run_step(input_ids.reshape(1, -1), position_ids.reshape(1, -1), step)
        logits = logits_of(packed)
        if logits.shape[1] == batch * length:
            return logits.reshape(batch, length, *logits.shape[2:])
        if logits.shape[1] == batch:  # one row per sequence: the graph gathers each one's last token
            return logits.reshape(batch, 1, *logits.shape[2:])
        if batch > 1:
            # the graph projects only the packed row's last position (gather_logits_before_lm_head):
            # one sequence per call gives each sequence's own last position
            rows = [self._whole_sequences(input_ids[i : i + 1], position_ids[i : i + 1]) for i in range(batch)]
            return torch.cat(rows, dim=0)
        return logits


class CachedGraphModule(CachedModule):
    """An exported graph whose attention reads and writes the caches (graph mode)."""

    def _run_step(self, input_ids: torch.Tensor, position_ids: torch.Tensor, inputs: dict[str, Any]) -> Any:
        return self.model(input_ids=input_ids, position_ids=position_ids, **inputs)
