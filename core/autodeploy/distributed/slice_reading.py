"""Reading a rank's slice of a checkpoint tensor from its safetensors file, not through a memory map.

Why: a safetensors file is loaded as one copy-on-write memory map per file, and the tensors a rank
keeps whole (embeddings, norms, ``lm_head``) are zero-copy views of it, so the map lives as long
as the model. Slicing a split tensor through that map (``narrow(...).clone()``) faults its pages
in, and the kernel maps their neighbours too: pages of the other ranks' slices stay in this rank's
resident set for good. Measured on bench_sharding's 0.5 GB Llama at world size 2, the slices
(~210 MB per rank) brought ~320 MB of file pages with them. Reading the slice's bytes with plain
file reads into a fresh tensor goes through the page cache without mapping anything: a rank's
memory holds its slices and the replicated weights, nothing of the others.

`SafetensorsShard` is the ``{name: tensor}`` mapping a factory yields for one safetensors file;
it reads the file's header (8-byte length, JSON) for the byte offsets. Loaders call
`read_weight_slice`, which falls back to slicing the tensor for any other mapping (``.bin``
files, GGUF tensors dequantised in memory).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .weight_slices import WeightSlice

if TYPE_CHECKING:
    import torch


class SafetensorsShard(dict):
    """The tensors of one safetensors file (lazy memory maps), which can also read a slice of one
    straight from the file (see the module docstring).

    `file_names` maps a tensor's name here to its name in the file, when a factory renamed them.
    """

    def __init__(self, tensors: Mapping[str, Any], path: str | Path, file_names: Optional[Mapping[str, str]] = None):
        super().__init__(tensors)
        self.path = Path(path)
        self._file_names = dict(file_names or {})
        self._header: Optional[tuple[int, dict[str, Any]]] = None

    def renamed(self, names: Mapping[str, str]) -> SafetensorsShard:
        """The same file's tensors under new names (``{new name: name here}``)."""
        return SafetensorsShard(
            {new: self[old] for new, old in names.items()},
            self.path,
            {new: self._file_names.get(old, old) for new, old in names.items()},
        )

    def read_slice(self, name: str, piece: WeightSlice) -> Optional[torch.Tensor]:
        """Tensor `name`'s slice `piece`, read from the file; None when the header does not describe
        the tensor as loaded (then the caller slices the tensor itself)."""
        import torch

        tensor = self[name]
        data_start, header = self._read_header()
        entry = header.get(self._file_names.get(name, name))
        if not isinstance(entry, dict) or tuple(entry.get("shape", ())) != tuple(tensor.shape):
            return None
        begin, end = entry["data_offsets"]
        size = tensor.element_size()
        if end - begin != tensor.numel() * size or tensor.dtype.itemsize != size:
            return None  # packed or unusual layouts: not plain rows of elements
        shape = tuple(tensor.shape)
        outer = math.prod(shape[: piece.dim])
        inner = math.prod(shape[piece.dim + 1 :]) * size
        chunk = piece.length * inner
        stride = shape[piece.dim] * inner
        out = torch.empty(piece.shard_shape(), dtype=tensor.dtype)
        if out.numel() == 0:
            return out
        view = memoryview(out.view(-1).view(torch.uint8).numpy())  # type: ignore[arg-type]
        with open(self.path, "rb", buffering=0) as file:
            for block in range(outer):
                offset = data_start + begin + block * stride + piece.start * inner
                _read_exactly(file, offset, view[block * chunk : (block + 1) * chunk], self.path)
        return out

    def _read_header(self) -> tuple[int, dict[str, Any]]:
        if self._header is None:
            with open(self.path, "rb") as file:
                length = int.from_bytes(file.read(8), "little")
                header = json.loads(file.read(length))
            self._header = (8 + length, header)
        return self._header


def _read_exactly(file: Any, offset: int, target: memoryview, path: Path) -> None:
    file.seek(offset)
    done = 0
    while done < len(target):
        count = file.readinto(target[done:])
        if not count:
            raise OSError(f"{path}: file ends before the tensor data it describes (truncated?)")
        done += count


def read_weight_slice(shard: Mapping[str, Any], name: str, piece: WeightSlice) -> torch.Tensor:
    """This rank's `piece` of tensor `name` of `shard`, as a tensor of its own.

    From the file when `shard` can read it so (`SafetensorsShard`), else a copy of a narrow view
    of the tensor (which may fault in more of a memory map than the slice).
    """
    reader = getattr(shard, "read_slice", None)
    if callable(reader):
        result = reader(name, piece)
        if result is not None:
            return result
    return shard[name].narrow(piece.dim, piece.start, piece.length).clone()
