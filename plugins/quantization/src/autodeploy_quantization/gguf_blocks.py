"""GGUF's quantised blocks, mapped onto the quantised linear ops' layouts without a float copy of
the model (each conversion works on one tensor).

Block layouts (ggml, 32 weights per block, one row of blocks per output channel):

- ``Q8_0``: ``fp16 d`` + 32 ``int8 q``; ``w = d * q`` (34 bytes).
- ``Q4_0``: ``fp16 d`` + 16 bytes of nibbles; ``w = d * (q - 8)``, ``q`` in 0..15 (18 bytes).
- ``Q4_1``: ``fp16 d``, ``fp16 m`` + 16 bytes of nibbles; ``w = d * q + m`` (20 bytes).

Nibbles: byte ``j`` holds weight ``j`` in its low half and weight ``j + 16`` in its high half.

Q4_0 and Q4_1 map exactly onto ``autodeploy::int4_weight_linear`` with group 32
(``w = (q - 8) * scale + zero``: ``scale = d``, ``zero = 0`` for Q4_0 and ``m + 8 d`` for Q4_1;
the scales are then held in the activations' dtype, so bf16 rounds them).

Q8_0 has one scale per 32 weights, ``int8_weight_linear``'s kernel one per output channel: the
row is re-quantised to its largest block scale, ``q' = round(q * d / s)`` with
``s = max |d * q| / 127``. A block whose own range is ``r`` times smaller than the row's keeps
about ``127 / r`` levels instead of 127: the rounding error of such a block grows from
``d / 2`` to ``s / 2``. Measured on the tests' tiny model and reported by the benchmark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

BLOCK = 32
BLOCK_BYTES = {"Q8_0": 34, "Q4_0": 18, "Q4_1": 20}


def _blocks(data: torch.Tensor, kind: str, shape: tuple[int, ...]) -> torch.Tensor:
    """`data` [rows, bytes per row] uint8 as [rows, blocks, bytes per block], checked against `shape`."""
    rows, columns = shape
    size = BLOCK_BYTES[kind]
    if columns % BLOCK or tuple(data.shape) != (rows, columns // BLOCK * size):
        raise ValueError(
            f"GGUF {kind} blocks of shape {tuple(data.shape)} do not hold a [{rows}, {columns}] tensor "
            f"({size} bytes per {BLOCK} weights)"
        )
    return data.reshape(rows, columns // BLOCK, size)


def _half(blocks: torch.Tensor, start: int) -> torch.Tensor:
    """The fp16 at byte `start` of each block, as float32 [rows, blocks]."""
    import torch

    return blocks[..., start : start + 2].contiguous().view(torch.float16).squeeze(-1).to(torch.float32)


def q8_0_to_int8_per_channel(data: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Q8_0 rows -> ``(q int8 [out, in], scale float32 [out])`` of ``int8_weight_linear`` (re-quantised
    per channel, see the module docstring)."""
    import torch

    blocks = _blocks(data, "Q8_0", shape)
    d = _half(blocks, 0)  # [rows, blocks]
    q = blocks[..., 2:].contiguous().view(torch.int8).to(torch.float32)  # [rows, blocks, 32]
    values = q * d[..., None]
    scale = (values.abs().amax(dim=(1, 2)) / 127.0).clamp(min=1e-12)
    requantized = torch.round(values / scale[:, None, None]).clamp(-127, 127).to(torch.int8)
    return requantized.reshape(shape), scale


def q4_to_groups(
    data: torch.Tensor, kind: str, shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Q4_0 / Q4_1 rows -> ``(q int32 [out, in] in 0..15, scale [out, groups], zero [out, groups])``
    with ``w = (q - 8) * scale + zero`` exactly (float32 scales)."""
    import torch

    blocks = _blocks(data, kind, shape)
    d = _half(blocks, 0)
    nibbles = blocks[..., 4:] if kind == "Q4_1" else blocks[..., 2:]
    q = torch.cat([nibbles & 0x0F, nibbles >> 4], dim=-1).to(torch.int32)  # [rows, blocks, 32]
    zero = _half(blocks, 2) + 8.0 * d if kind == "Q4_1" else torch.zeros_like(d)
    return q.reshape(shape), d, zero


def dequantize_blocks(data: torch.Tensor, kind: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The float32 values of Q8_0 / Q4_0 / Q4_1 rows (a reference for tests)."""
    import torch

    if kind == "Q8_0":
        blocks = _blocks(data, kind, shape)
        return (blocks[..., 2:].contiguous().view(torch.int8).to(torch.float32) * _half(blocks, 0)[..., None]).reshape(
            shape
        )
    q, scale, zero = q4_to_groups(data, kind, shape)
    rows, columns = shape
    grouped = (q.reshape(rows, -1, BLOCK).to(torch.float32) - 8.0) * scale[..., None] + zero[..., None]
    return grouped.reshape(shape)
