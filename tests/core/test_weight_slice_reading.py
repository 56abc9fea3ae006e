"""A rank's slice of a safetensors tensor is read from the file: equal to slicing the tensor, and
without mapping the rest of it into the process (what kept other ranks' slices resident)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from autodeploy.distributed import SafetensorsShard, WeightSlice, read_weight_slice

TENSORS = {
    "w32": torch.randn(24, 40),
    "w16": torch.randn(16, 12).to(torch.bfloat16),
    "cube": torch.randn(4, 6, 10),
    "bias": torch.randn(24),
}


@pytest.fixture(scope="module")
def shard_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("slices") / "model.safetensors"
    save_file(TENSORS, str(path))
    return path


def _pieces(shape: tuple[int, ...]):
    for dim, size in enumerate(shape):
        for world in (2, 4):
            if size % world == 0:
                length = size // world
                for rank in range(world):
                    yield WeightSlice(dim=dim, start=rank * length, length=length, full_shape=shape)


def test_every_slice_read_from_the_file_equals_the_tensors_slice(shard_file):
    shard = SafetensorsShard(load_file(str(shard_file)), shard_file)
    count = 0
    for name, tensor in TENSORS.items():
        for piece in _pieces(tuple(tensor.shape)):
            got = read_weight_slice(shard, name, piece)
            assert got.dtype == tensor.dtype and tuple(got.shape) == piece.shard_shape()
            assert torch.equal(got, tensor.narrow(piece.dim, piece.start, piece.length))
            count += 1
    assert count > 20
    # a plain mapping (a .bin file, GGUF tensors) gets the tensor's own slice
    piece = WeightSlice(dim=1, start=20, length=20, full_shape=(24, 40))
    assert torch.equal(read_weight_slice(dict(TENSORS), "w32", piece), TENSORS["w32"][:, 20:])


def test_a_renamed_shard_reads_under_the_new_names(shard_file):
    shard = SafetensorsShard(load_file(str(shard_file)), shard_file).renamed({"model.w": "w32"})
    piece = WeightSlice(dim=0, start=12, length=12, full_shape=(24, 40))
    assert list(shard) == ["model.w"]
    assert torch.equal(read_weight_slice(shard, "model.w", piece), TENSORS["w32"][12:])


def _mapped_kb(path: Path) -> int:
    """Resident kB of this process's mappings of `path` (from /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:  # a mapping's header line
            inside = len(fields) >= 6 and fields[5] == str(path)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_reading_a_slice_maps_none_of_the_tensor(tmp_path):
    path = tmp_path / "big.safetensors"
    save_file({"w": torch.ones(1024, 2048)}, str(path))  # 8 MB, rows of 8 kB
    piece = WeightSlice(dim=1, start=1024, length=1024, full_shape=(1024, 2048))
    shard = SafetensorsShard(load_file(str(path)), path)
    assert read_weight_slice(shard, "w", piece).sum().item() == 1024 * 1024
    assert _mapped_kb(path) < 1024  # at most the header's pages
    # slicing through the memory map instead faults in (at least) the slice's pages
    shard["w"].narrow(1, 1024, 1024).clone()
    assert _mapped_kb(path) > 4096
