"""The sequence interface (`cm`) every transform receives: AutoDeploy's `CachedSequenceInterface`.

It plays AutoDeploy's `SequenceInfo` role too. Three jobs, one object, because transforms and the
runtime must agree on all three:

- **Limits and examples**: where the model runs (``device``) and within which limits
  (``max_seq_len``, ``max_batch_size``, ``max_num_tokens``); the example inputs and dynamic dims
  that export needs (``input_ids`` and ``position_ids``, so positions come from the runtime).
- **The graph's inputs**: after cache_init the module is called as ``module(**cm.named_args)``.
  ``graph_inputs`` starts as ``input_ids, position_ids``; transforms that need per-step metadata
  (`METADATA_NAMES`) or caches add them (`add_graph_input`, `add_cache`), in the order the
  module's inputs expect.
- **The step's batch** (`nest_sequences`): which sequences, their new tokens (prefill and decode
  mixed), the position of each one's first new token, and its cache slot. Tokens of all sequences
  are packed into one row (AutoDeploy's flattened layout): ``input_ids`` and ``position_ids`` are
  ``[1, num_tokens]`` and the metadata tensors tell the attention where each sequence starts.

Building one is a line: ``CachedSequenceInterface(max_seq_len=64, device="cpu")``. torch is
imported only when tensors are made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import torch

INPUT_NAMES = ("input_ids", "position_ids")
"""The inputs every exported graph takes, ``[batch, seq]`` long tensors."""

METADATA_NAMES = ("seq_len", "input_pos", "cache_loc", "seq_start", "last_token_index")
"""Per-step metadata a cached graph may ask for, each a ``[num_sequences]`` long tensor:

- ``seq_len``: how many new tokens each sequence has in this step (prompt length at prefill, 1 at decode);
- ``input_pos``: the position of each sequence's first new token (= tokens already in its cache);
- ``cache_loc``: each sequence's cache slot;
- ``seq_start``: where each sequence's new tokens start in the packed row;
- ``last_token_index``: where each sequence's last new token is in the packed row (whose logits
  sample the next token).
"""

CacheAllocator = Callable[["CachedSequenceInterface"], "torch.Tensor"]
"""Makes one cache tensor for an interface (its device and limits), e.g. a layer's K cache."""


@dataclass(frozen=True)
class SequenceBatch:
    """One step's batch, as plain Python: the runtime's description before it becomes tensors."""

    tokens: tuple[tuple[int, ...], ...]
    input_pos: tuple[int, ...]
    cache_loc: tuple[int, ...]

    @property
    def num_sequences(self) -> int:
        return len(self.tokens)

    @property
    def num_tokens(self) -> int:
        return sum(len(tokens) for tokens in self.tokens)

    @property
    def seq_len(self) -> list[int]:
        return [len(tokens) for tokens in self.tokens]

    @property
    def seq_start(self) -> list[int]:
        starts, offset = [], 0
        for tokens in self.tokens:
            starts.append(offset)
            offset += len(tokens)
        return starts

    @property
    def last_token_index(self) -> list[int]:
        return [start + len(tokens) - 1 for start, tokens in zip(self.seq_start, self.tokens, strict=True)]

    @property
    def is_decode_only(self) -> bool:
        """Every sequence brings exactly one new token (backends may take a faster path)."""
        return all(len(tokens) == 1 for tokens in self.tokens)


@dataclass
class CachedSequenceInterface:
    """Target device, limits, example inputs for export, the graph's inputs, caches and the step's batch."""

    max_seq_len: int = 128
    max_batch_size: int = 8
    device: str = "cpu"
    # the most tokens one step may carry (prefill chunks included); None: max_batch_size * max_seq_len
    max_num_tokens: Optional[int] = None
    # An example batch of 1 specialises the batch dimension in torch.export; use at least 2.
    example_batch_size: int = 2
    example_seq_len: int = 8
    # the inputs export captures; ``position_ids`` joins when the export transform takes it
    example_input_names: tuple[str, ...] = ("input_ids",)
    graph_inputs: list[str] = field(default_factory=lambda: list(INPUT_NAMES))
    caches: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    batch: Optional[SequenceBatch] = field(default=None, repr=False)
    _cache_allocators: dict[str, CacheAllocator] = field(default_factory=dict, repr=False)
    _tensors: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.max_seq_len < 2 or self.max_batch_size < 1:
            raise ValueError("max_seq_len must be >= 2 and max_batch_size >= 1")
        if self.max_num_tokens is not None and self.max_num_tokens < 1:
            raise ValueError("max_num_tokens must be >= 1 (or None for max_batch_size * max_seq_len)")
        self.example_batch_size = max(2, min(self.example_batch_size, max(self.max_batch_size, 2)))
        self.example_seq_len = max(2, min(self.example_seq_len, self.max_seq_len))

    @property
    def token_budget(self) -> int:
        """The most tokens one step may carry."""
        return self.max_num_tokens if self.max_num_tokens is not None else self.max_batch_size * self.max_seq_len

    # -- export -------------------------------------------------------------------------------

    def example_inputs(self, device: str | None = None) -> dict[str, torch.Tensor]:
        """Named example inputs of the example batch and sequence sizes, one per name in `example_input_names`."""
        import torch

        shape = (self.example_batch_size, self.example_seq_len)
        target = device or self.device
        examples = {"input_ids": torch.ones(shape, dtype=torch.long, device=target)}
        if "position_ids" in self.example_input_names:
            examples["position_ids"] = (
                torch.arange(self.example_seq_len, dtype=torch.long, device=target).expand(shape).clone()
            )
        return examples

    def dynamic_dims(self) -> dict[str, dict[int, tuple[str, int, int]]]:
        """For each example input, its dynamic dimensions as (name, min, max).

        Export turns these into `torch.export.Dim`s; the limits come from this interface. Both
        inputs share the names, so export knows they have the same shape. The sequence dimension
        reaches the token budget: a packed step carries up to that many tokens in one row.
        """
        dims = {0: ("batch_size", 1, self.max_batch_size), 1: ("seq_len", 1, max(self.max_seq_len, self.token_budget))}
        return {name: dict(dims) for name in INPUT_NAMES}

    # -- the graph's inputs and caches --------------------------------------------------------

    def add_graph_input(self, name: str) -> None:
        """Ask for a per-step metadata tensor (one of `METADATA_NAMES`) as a graph input, once."""
        if name not in METADATA_NAMES:
            raise ValueError(f"unknown sequence metadata {name!r}; known: {', '.join(METADATA_NAMES)}")
        if name not in self.graph_inputs:
            self.graph_inputs.append(name)

    def add_cache(self, name: str, allocate: CacheAllocator) -> None:
        """Register a cache (allocated by `initialize_caches`) that the graph takes as input `name`."""
        if name in INPUT_NAMES or name in METADATA_NAMES:
            raise ValueError(f"cache name {name!r} clashes with a sequence input")
        if name in self._cache_allocators:
            raise ValueError(f"cache {name!r} is registered twice")
        self._cache_allocators[name] = allocate
        self.graph_inputs.append(name)

    @property
    def cache_names(self) -> list[str]:
        return list(self._cache_allocators)

    def initialize_caches(self) -> int:
        """Allocate every registered cache on the device (again, if already allocated); return their bytes."""
        self.caches = {name: allocate(self) for name, allocate in self._cache_allocators.items()}
        return self.cache_bytes()

    def cache_bytes(self) -> int:
        return sum(cache.numel() * cache.element_size() for cache in self.caches.values())

    # -- the step's batch ----------------------------------------------------------------------

    def nest_sequences(
        self, tokens: Sequence[Sequence[int]], input_pos: Sequence[int], cache_loc: Sequence[int]
    ) -> SequenceBatch:
        """Describe this step: each sequence's new tokens, first position and cache slot.

        Checks the batch against the limits (a scheduler bug must not write past a cache) and
        builds the tensors `named_args` hands to the module.
        """
        import torch

        batch = SequenceBatch(
            tuple(tuple(int(t) for t in seq) for seq in tokens),
            tuple(int(p) for p in input_pos),
            tuple(int(s) for s in cache_loc),
        )
        self._check_batch(batch)
        device = self.device
        flat = [token for seq in batch.tokens for token in seq]
        positions = [pos + i for pos, seq in zip(batch.input_pos, batch.tokens, strict=True) for i in range(len(seq))]

        def as_tensor(values: Sequence[int]) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.long, device=device)

        self._tensors = {
            "input_ids": as_tensor(flat).unsqueeze(0),
            "position_ids": as_tensor(positions).unsqueeze(0),
            "seq_len": as_tensor(batch.seq_len),
            "input_pos": as_tensor(batch.input_pos),
            "cache_loc": as_tensor(batch.cache_loc),
            "seq_start": as_tensor(batch.seq_start),
            "last_token_index": as_tensor(batch.last_token_index),
        }
        self.batch = batch
        return batch

    def _check_batch(self, batch: SequenceBatch) -> None:
        n = batch.num_sequences
        if not (len(batch.input_pos) == len(batch.cache_loc) == n):
            raise ValueError(f"{n} sequences but {len(batch.input_pos)} positions and {len(batch.cache_loc)} slots")
        if n == 0 or n > self.max_batch_size:
            raise ValueError(f"a step holds 1 to max_batch_size={self.max_batch_size} sequences, got {n}")
        if any(len(seq) == 0 for seq in batch.tokens):
            raise ValueError("every sequence in a step needs at least one new token")
        if batch.num_tokens > self.token_budget:
            raise ValueError(f"a step carries at most {self.token_budget} tokens, got {batch.num_tokens}")
        if len(set(batch.cache_loc)) != n or any(not 0 <= slot < self.max_batch_size for slot in batch.cache_loc):
            raise ValueError(f"cache slots must be distinct and in [0, {self.max_batch_size}), got {batch.cache_loc}")
        for pos, seq in zip(batch.input_pos, batch.tokens, strict=True):
            if pos < 0 or pos + len(seq) > self.max_seq_len:
                raise ValueError(f"positions {pos}..{pos + len(seq) - 1} are outside max_seq_len {self.max_seq_len}")

    def batch_tensor(self, name: str) -> torch.Tensor:
        """One of the step's tensors (`INPUT_NAMES` or `METADATA_NAMES`); `nest_sequences` first."""
        if name not in self._tensors:
            raise RuntimeError(f"no step described yet (call nest_sequences) or unknown input {name!r}")
        return self._tensors[name]

    @property
    def named_args(self) -> dict[str, torch.Tensor]:
        """The module's inputs for this step, in `graph_inputs` order: ``module(**cm.named_args)``."""
        args = {}
        for name in self.graph_inputs:
            if name in self._cache_allocators:
                if name not in self.caches:
                    raise RuntimeError(f"cache {name!r} is not allocated (run initialize_caches)")
                args[name] = self.caches[name]
            else:
                args[name] = self.batch_tensor(name)
        return args
