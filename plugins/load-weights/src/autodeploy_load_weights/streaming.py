"""Stream a checkpoint into a module, one shard at a time.

Each tensor is put in place as it comes, converted only when it must be: a tensor already on the
load device with the module's dtype is assigned as is (zero-copy: a memory-mapped safetensors
tensor on CPU stays a view of the file's pages). A shard is released before the next one is
asked for, so a load holds the model plus at most one shard of copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from autodeploy.distributed import read_weight_slice, weight_slices
from autodeploy.graph import can_cast
from autodeploy.weight_conversions import CheckpointTensor, WeightConversion, quantized_blocks, weight_conversions

from .problems import LoadProblems
from .slots import TensorSlot, assign, collect_slots, current_tensor, unique_slots
from .ties import TieGroups

ShardCallback = Callable[[str], None]


@dataclass
class StreamResult:
    """What a load did: tensors put in place, names filled by ties, shards read."""

    loaded: int = 0
    tied: int = 0
    shards: int = 0
    slots: list[TensorSlot] = field(default_factory=list)


def stream_checkpoint(
    module: nn.Module,
    shards: Iterable[tuple[str, Mapping[str, torch.Tensor]]],
    device: str,
    source: str,
    on_shard: Optional[ShardCallback] = None,
    tie_groups: Optional[Callable[[], TieGroups]] = None,
) -> StreamResult:
    """Load every shard of `shards` into `module` on `device`.

    Raises `autodeploy.CheckpointError` when the checkpoint does not fit the module (a missing,
    unexpected, misshapen, uncastable or twice-loaded tensor), after all shards were seen, so
    that the message lists every kind of problem at once. `source` names the checkpoint in it.
    `tie_groups` gives the model's tied names (see `ties`); asked only when a name does not match.
    """
    loader = _ShardLoader(module, torch.device(device), tie_groups or dict)
    for shard_name, tensors in shards:
        loader.load_shard(shard_name, tensors)
        # drop our reference before the iterator reads the next shard: one shard at a time
        del tensors
        if on_shard is not None:
            on_shard(shard_name)
    return loader.finish(source)


class _ShardLoader:
    """The state of one load: the module's slots and what has been loaded where."""

    def __init__(self, module: nn.Module, device: torch.device, tie_groups: Callable[[], TieGroups]):
        self.module = module
        self.device = device
        self.tie_groups = tie_groups
        self.slots = collect_slots(module)
        # tensors of which this rank holds a slice (tensor parallelism): only that part is read
        self.slices = weight_slices(module)
        # tensors that load converted (e.g. quantised at load time): the conversion makes the module's tensors
        self.conversions = weight_conversions(module)
        self.loaded_from: dict[str, str] = {}  # slot primary name -> shard it was loaded from
        self.seen: dict[str, str] = {}  # checkpoint name -> shard it was in
        self.problems = LoadProblems()
        self.result = StreamResult(slots=unique_slots(self.slots))
        self.shard: Mapping[str, torch.Tensor] = {}

    def load_shard(self, shard_name: str, tensors: Mapping[str, torch.Tensor]) -> None:
        """Put every tensor of one shard in place.

        Values are read one at a time, when their turn comes (a lazy shard, e.g. a GGUF file,
        de-quantises a tensor only when it is read); a converted tensor is never read as a whole
        when the conversion takes the shard's quantised blocks.
        """
        self.shard = tensors  # reads this rank's slices (from the file, where it can)
        for name in tensors:
            conversion = self.conversions.get(name)
            if conversion is not None:
                self._convert_tensor(name, tensors, conversion, shard_name)
            else:
                self._load_tensor(name, tensors[name], shard_name)
        self.shard = {}
        self.result.shards += 1

    def _load_tensor(self, name: str, tensor: torch.Tensor, shard_name: str) -> None:
        first_shard = self.seen.get(name)
        if first_shard is not None:
            self.problems.add_duplicate(name, shard_name, first_shard)
            return
        self.seen[name] = shard_name
        slot = self.slots.get(name) or self._slot_tied_to(name)
        if slot is None:
            self.problems.add_unexpected(name, tensor.shape, shard_name)
            return
        piece = next((self.slices[alias] for alias in slot.names if alias in self.slices), None)
        if piece is not None:
            if tuple(tensor.shape) != piece.full_shape:
                self.problems.add_shape_mismatch(name, piece.full_shape, tensor.shape, shard_name)
                return
            # a copy of the slice alone: the rest of the tensor is never read (nor mapped)
            tensor = read_weight_slice(self.shard, name, piece)
        if tuple(tensor.shape) != slot.shape:
            self.problems.add_shape_mismatch(name, slot.shape, tensor.shape, shard_name)
            return
        if not can_cast(tensor.dtype, slot.dtype):
            self.problems.add_dtype_mismatch(name, slot.dtype, tensor.dtype, shard_name)
            return
        if slot.primary in self.loaded_from and name != slot.primary:
            # a tied name stored too: the primary name's tensor wins (as when ties are re-applied
            # after a load); skipped without reading it
            return
        assign(self.module, slot, tensor.to(device=self.device, dtype=slot.dtype))
        self.loaded_from[slot.primary] = shard_name
        self.result.loaded += 1

    def _convert_tensor(
        self, name: str, tensors: Mapping[str, torch.Tensor], conversion: WeightConversion, shard_name: str
    ) -> None:
        first_shard = self.seen.get(name)
        if first_shard is not None:
            self.problems.add_duplicate(name, shard_name, first_shard)
            return
        self.seen[name] = shard_name
        sliced = [target for target in conversion.targets if target in self.slices]
        if sliced:
            raise NotImplementedError(
                f"checkpoint tensor {name!r} loads through a conversion ({conversion.description or 'quantised'}) "
                f"into tensors this rank holds a slice of ({', '.join(sliced)}): converting and slicing at once "
                "is not supported; disable one of the two transforms"
            )
        source = CheckpointTensor(name=name, read=lambda: tensors[name], quantized=quantized_blocks(tensors, name))
        produced = conversion.convert(source)
        for target in conversion.targets:
            tensor = produced.get(target)
            slot = self.slots.get(target)
            if tensor is None or slot is None:
                self.problems.add_unexpected(
                    f"{target} (converted from {name})", () if tensor is None else tensor.shape, shard_name
                )
                continue
            if tuple(tensor.shape) != slot.shape:
                self.problems.add_shape_mismatch(target, slot.shape, tensor.shape, shard_name)
                continue
            if tensor.dtype != slot.dtype and not can_cast(tensor.dtype, slot.dtype):
                self.problems.add_dtype_mismatch(target, slot.dtype, tensor.dtype, shard_name)
                continue
            assign(self.module, slot, tensor.to(device=self.device, dtype=slot.dtype))
            self.loaded_from[slot.primary] = shard_name
            self.result.loaded += 1

    def finish(self, source: str) -> StreamResult:
        """Check that every slot was loaded (directly or through a tie); raise if anything is off."""
        for slot in self.result.slots:
            if slot.primary in self.loaded_from:
                self.result.tied += sum(1 for name in slot.names if name not in self.seen)
            elif not any(name in self.seen for name in slot.names):  # refused ones are reported as such
                self._retie_or_report_missing(slot)
        if self.problems:
            if self.result.shards == 0:
                source = f"{source} (it yielded no shard)"
            raise self.problems.to_error(source)
        return self.result

    def _slot_tied_to(self, name: str) -> Optional[TensorSlot]:
        """The slot of a name tied to `name` in the factory's model, when the module lost `name`."""
        for partner in self.tie_groups().get(name, ()):
            if partner in self.slots:
                return self.slots[partner]
        return None

    def _retie_or_report_missing(self, slot: TensorSlot) -> None:
        """A slot absent from the checkpoint takes the loaded tensor it is tied to, or is missing."""
        ties = self.tie_groups()
        for name in slot.names:
            for partner in ties.get(name, ()):
                loaded = self.slots.get(partner)
                if loaded is not None and loaded is not slot and loaded.primary in self.loaded_from:
                    assign(self.module, slot, current_tensor(self.module, loaded))
                    self.loaded_from[slot.primary] = self.loaded_from[loaded.primary]
                    self.result.tied += len(slot.names)
                    return
        self.problems.add_missing(slot.primary, slot.shape, tied_to=slot.names[1:])
