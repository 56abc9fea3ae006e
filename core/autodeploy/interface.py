"""The sequence interface (`cm`) every transform receives: AutoDeploy's `CachedSequenceInterface`.

It says where the model will run and within which limits, and makes the example inputs that
export needs. Building one is a line: ``CachedSequenceInterface(max_seq_len=64, device="cpu")``.
torch is imported only when example inputs are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class CachedSequenceInterface:
    """Target device, sequence limits, and example inputs for export."""

    max_seq_len: int = 128
    max_batch_size: int = 8
    device: str = "cpu"
    # An example batch of 1 specialises the batch dimension in torch.export; use at least 2.
    example_batch_size: int = 2
    example_seq_len: int = 8
    vocab_size_for_examples: int = 2
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_seq_len < 2 or self.max_batch_size < 1:
            raise ValueError("max_seq_len must be >= 2 and max_batch_size >= 1")
        self.example_batch_size = max(2, min(self.example_batch_size, max(self.max_batch_size, 2)))
        self.example_seq_len = max(2, min(self.example_seq_len, self.max_seq_len))

    def example_inputs(self, device: str | None = None) -> dict[str, torch.Tensor]:
        """Named example inputs (``input_ids``) of the example batch and sequence sizes."""
        import torch

        input_ids = torch.ones(
            (self.example_batch_size, self.example_seq_len),
            dtype=torch.long,
            device=device or self.device,
        )
        return {"input_ids": input_ids}

    def dynamic_dims(self) -> dict[str, dict[int, tuple[str, int, int]]]:
        """For each example input, its dynamic dimensions as (name, min, max).

        Export turns these into `torch.export.Dim`s; the limits come from this interface.
        """
        return {
            "input_ids": {
                0: ("batch_size", 1, self.max_batch_size),
                1: ("seq_len", 1, self.max_seq_len),
            }
        }
