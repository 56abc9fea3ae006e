"""Example inputs and dynamic dimensions for export, from the sequence interface (`cm`).

The interface says which dimensions of each input vary and within which limits
(``cm.dynamic_dims()``: batch 1..max_batch_size, sequence 1..max_seq_len) and makes example
inputs of a batch of at least 2 (an example of size 1 makes torch.export specialise that
dimension, and it then refuses to treat it as dynamic). The transform's ``dynamic_batch`` and
``dynamic_seq`` switches fix a dimension to its example size instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ExportInputError

if TYPE_CHECKING:
    import torch

    from autodeploy import CachedSequenceInterface

INPUT_NAME = "input_ids"
BATCH_DIM_NAME = "batch_size"
SEQ_DIM_NAME = "seq_len"


@dataclass(frozen=True)
class DynamicSwitches:
    """Which of the named dynamic dimensions stay dynamic (dimensions with other names always do)."""

    batch: bool = True
    seq: bool = True

    def allows(self, dim_name: str) -> bool:
        if dim_name == BATCH_DIM_NAME:
            return self.batch
        if dim_name == SEQ_DIM_NAME:
            return self.seq
        return True


def _declared_dims(cm: CachedSequenceInterface) -> dict[int, tuple[str, int, int]]:
    declared = getattr(cm, "dynamic_dims", None)
    if callable(declared):
        return dict(declared().get(INPUT_NAME, {}))
    # a sequence interface without the declaration: AutoDeploy's two dimensions and limits
    return {0: (BATCH_DIM_NAME, 1, cm.max_batch_size), 1: (SEQ_DIM_NAME, 1, cm.max_seq_len)}


def example_and_dynamic_shapes(
    cm: CachedSequenceInterface, device: str, switches: DynamicSwitches
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The example ``input_ids`` on `device` and the ``dynamic_shapes`` argument of torch.export."""
    import torch

    examples = cm.example_inputs(device=device)
    if INPUT_NAME not in examples:
        raise ExportInputError(
            f"the sequence interface gave no {INPUT_NAME!r} example input (it gave {sorted(examples)}); "
            "export_to_gm exports models that take input_ids"
        )
    input_ids = examples[INPUT_NAME]
    dims: dict[int, Any] = {}
    for dim, (name, low, high) in sorted(_declared_dims(cm).items()):
        size = input_ids.shape[dim]
        if size > high:  # e.g. max_batch_size 1 while examples use a batch of 2
            input_ids = input_ids.narrow(dim, 0, high)
            size = high
        if not switches.allows(name) or high <= max(low, 1):
            continue  # static: fixed to the example size
        if not low <= size <= high:
            raise ExportInputError(
                f"example {INPUT_NAME} has size {size} in dimension {dim} ({name}), outside the dynamic "
                f"range {low}..{high} declared by the sequence interface"
            )
        dims[dim] = torch.export.Dim(name, min=low, max=high)
    return input_ids, {INPUT_NAME: dims or None}
