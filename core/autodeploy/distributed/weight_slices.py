"""Which slice of a checkpoint tensor a rank holds, recorded on the graph that holds the weight.

The sharding stage runs on a model built on the meta device, before any weight is read: it gives
each split parameter its per-rank shape and records here where that shape comes from in the full
tensor. The weight loader reads only that slice (a narrow view of a memory-mapped tensor), so a
rank's weight memory is its share of the split layers plus the replicated ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WEIGHT_SLICES_META = "autodeploy_weight_slices"


@dataclass(frozen=True)
class WeightSlice:
    """Rows or columns ``[start, start + length)`` along `dim` of a tensor of `full_shape`."""

    dim: int
    start: int
    length: int
    full_shape: tuple[int, ...]

    def shard_shape(self) -> tuple[int, ...]:
        shape = list(self.full_shape)
        shape[self.dim] = self.length
        return tuple(shape)


def weight_slices(module: Any) -> Mapping[str, WeightSlice]:
    """The slices recorded on `module` (a GraphModule), keyed by state-dict name; empty if none."""
    meta = getattr(module, "meta", None)
    if not isinstance(meta, dict):
        return {}
    return meta.get(WEIGHT_SLICES_META, {})


def set_weight_slice(module: Any, name: str, weight_slice: WeightSlice) -> None:
    """Record that `module`'s tensor `name` holds `weight_slice` of the checkpoint's tensor."""
    module.meta.setdefault(WEIGHT_SLICES_META, {})[name] = weight_slice
