"""Checkpoint tensors that load into another form than the file's: the load-time hook of
quantization from a checkpoint (AutoDeploy's ``*_from_config`` transforms register load hooks
for the same purpose).

A transform that rewrites a layer before the weights are loaded (e.g. a linear into a quantized
linear whose int8 weight and scales replace the float weight) records a `WeightConversion` on the
graph under the checkpoint's tensor name. The weight loader then hands that tensor to the
conversion instead of assigning it, and assigns what the conversion returns (the new tensors,
by the module's names). The conversion sees the tensor as a `CheckpointTensor`: ``read()`` gives
it in floating point (de-quantised if the file is quantised; one tensor, when asked), and
``quantized`` its blocks as the file stores them when the shard keeps them (a GGUF file's Q8_0 or
Q4_1 rows), so that a quantised checkpoint loads into a quantised graph without ever holding the
model in floating point.

Shards are mappings of tensor name -> tensor; a shard that keeps a quantised form offers it
through a ``quantized_blocks(name)`` method (see `quantized_blocks`). Torch-free at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

WEIGHT_CONVERSIONS_META = "autodeploy_weight_conversions"


@dataclass(frozen=True)
class QuantizedBlocks:
    """One checkpoint tensor in its file's block format.

    ``kind`` names the format, e.g. ``"gguf:Q8_0"``; ``shape`` is the logical (de-quantised)
    shape, e.g. ``(out_features, in_features)``; ``data`` is a ``torch.uint8`` tensor with one
    row of blocks per output row (``[shape[0], bytes per row]``).
    """

    kind: str
    shape: tuple[int, ...]
    data: Any


@dataclass(frozen=True)
class CheckpointTensor:
    """What a conversion is given: the tensor's checkpoint name, a reader of its floating-point
    value and, when the shard keeps it, its quantised blocks."""

    name: str
    read: Callable[[], Any]
    quantized: Optional[QuantizedBlocks] = None


@dataclass(frozen=True)
class WeightConversion:
    """How one checkpoint tensor becomes the module's tensors.

    ``convert(tensor)`` returns module tensor name -> tensor, for exactly the names in
    ``targets`` (the loader checks them against the module's shapes and dtypes).
    """

    targets: tuple[str, ...]
    convert: Callable[[CheckpointTensor], Mapping[str, Any]]
    description: str = ""


def weight_conversions(module: Any) -> Mapping[str, WeightConversion]:
    """The conversions recorded on `module` (a GraphModule), keyed by checkpoint name; empty if none."""
    meta = getattr(module, "meta", None)
    if not isinstance(meta, dict):
        return {}
    return meta.get(WEIGHT_CONVERSIONS_META, {})


def set_weight_conversion(module: Any, name: str, conversion: WeightConversion) -> None:
    """Record that the checkpoint tensor `name` loads into `module` through `conversion`."""
    module.meta.setdefault(WEIGHT_CONVERSIONS_META, {})[name] = conversion


def quantized_blocks(shard: Mapping[str, Any], name: str) -> Optional[QuantizedBlocks]:
    """The quantised blocks of `name` when `shard` keeps them (a ``quantized_blocks`` method), else None."""
    method = getattr(shard, "quantized_blocks", None)
    return method(name) if callable(method) else None


__all__ = [
    "CheckpointTensor",
    "QuantizedBlocks",
    "WeightConversion",
    "quantized_blocks",
    "set_weight_conversion",
    "weight_conversions",
]
