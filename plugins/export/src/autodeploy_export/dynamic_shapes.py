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
POSITIONS_NAME = "position_ids"
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


def _declared_dims(cm: CachedSequenceInterface, name: str) -> dict[int, tuple[str, int, int]]:
    dims = cm.dynamic_dims()
    return dict(dims.get(name, dims.get(INPUT_NAME, {})))


def example_and_dynamic_shapes(
    cm: CachedSequenceInterface, device: str, switches: DynamicSwitches, names: tuple[str, ...] = (INPUT_NAME,)
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The example inputs `names` on `device` and the ``dynamic_shapes`` argument of torch.export.

    Inputs that declare a dimension of the same name share one `torch.export.Dim`, so export
    knows that ``input_ids`` and ``position_ids`` have the same shape.
    """
    import torch

    examples = cm.example_inputs(device=device)
    missing = [name for name in names if name not in examples]
    if missing:
        raise ExportInputError(
            f"the sequence interface gave no {missing[0]!r} example input (it gave {sorted(examples)}); "
            f"export_to_gm exports models that take {', '.join(names)}"
        )
    shared: dict[str, Any] = {}
    inputs: dict[str, torch.Tensor] = {}
    shapes: dict[str, Any] = {}
    for input_name in names:
        tensor = examples[input_name]
        dims: dict[int, Any] = {}
        for dim, (name, low, high) in sorted(_declared_dims(cm, input_name).items()):
            size = tensor.shape[dim]
            if size > high:  # e.g. max_batch_size 1 while examples use a batch of 2
                tensor = tensor.narrow(dim, 0, high)
                size = high
            if not switches.allows(name) or high <= max(low, 1):
                continue  # static: fixed to the example size
            if not low <= size <= high:
                raise ExportInputError(
                    f"example {input_name} has size {size} in dimension {dim} ({name}), outside the dynamic "
                    f"range {low}..{high} declared by the sequence interface"
                )
            if name not in shared:
                shared[name] = torch.export.Dim(name, min=low, max=high)
            dims[dim] = shared[name]
        inputs[input_name] = tensor
        shapes[input_name] = dims or None
    return inputs, shapes
