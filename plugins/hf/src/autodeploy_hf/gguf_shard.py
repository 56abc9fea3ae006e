"""A GGUF file as a lazy shard: tensors read from the memory-mapped file one at a time.

transformers' ``load_gguf_checkpoint`` de-quantises every tensor of the file to fp32 at once (a
135M model: 540 MB for a 100 MB file). Here the file is opened with ``gguf.GGUFReader`` (a
memory map: nothing is read until a tensor is asked for) and named for the model with
transformers' own name map and tensor processor, so that each tensor is de-quantised only when
the loader reads it, and a tensor whose blocks map onto a quantised op (Q8_0, Q4_0, Q4_1) can be
taken as it is stored (``quantized_blocks``), never in floating point.

Only architectures whose transformers tensor processor works on one tensor at a time go this way
(the plain processor, and Llama's, which un-permutes the q/k rows llama.cpp permuted); the others
(MoE experts split across tensors, fused q/k/v of Bloom...) keep transformers' eager path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import torch
    from torch import nn
    from transformers import PretrainedConfig

# GGUF block types whose blocks the quantised linear ops take as they are stored
DIRECT_TYPES = ("Q8_0", "Q4_0", "Q4_1")


class NotPerTensor(Exception):
    """The file's architecture needs transformers' eager reading (its tensors are not read one at a time)."""


def _architecture(reader: Any) -> str:
    field = reader.fields.get("general.architecture")
    return bytes(field.parts[field.data[0]]).decode() if field is not None else ""


def _hf_config(model: nn.Module) -> PretrainedConfig:
    """The transformers config of `model` (nn.Module types ``model.config`` as a tensor or submodule)."""
    from transformers import PretrainedConfig

    config = model.config
    if not isinstance(config, PretrainedConfig):
        raise TypeError(f"{type(model).__name__} is not a transformers model: it has no PretrainedConfig")
    return config


def gguf_to_model_names(model: nn.Module, architecture: str) -> dict[str, str]:
    """GGUF tensor name -> the model's state-dict name.

    What transformers' ``get_gguf_hf_weights_map`` computes (gguf's name table, tried on each
    state-dict name and on its tails below each submodule), with the table built once instead of
    once per submodule (that costs it ~10 s on a 30-layer model).
    """
    from gguf import MODEL_ARCH_NAMES, get_tensor_name_map

    arch = next((key for key, value in MODEL_ARCH_NAMES.items() if value == architecture), None)
    if arch is None:
        raise NotPerTensor(f"architecture {architecture!r} is unknown to the installed gguf package")
    table = get_tensor_name_map(arch, _hf_config(model).num_hidden_layers)
    names = list(model.state_dict(keep_vars=True))
    mapping: dict[str, str] = {}
    depth = max((name.count(".") for name in names), default=0)
    for level in range(depth + 1):
        found: dict[str, str] = {}
        for name in names:
            parts = name.split(".")
            if level >= len(parts):
                continue
            relative = ".".join(parts[level:])
            stem, suffix = relative, ""
            if relative.endswith((".weight", ".bias")):
                stem, _, last = relative.rpartition(".")
                suffix = "." + last
            gguf_name = table.get_name(stem)
            if gguf_name is not None:
                found[gguf_name + suffix] = name  # within a level the last name wins, as in transformers
        for key, name in found.items():
            mapping.setdefault(key, name)  # a shallower level wins
    return mapping


class GGUFShard(Mapping[str, "torch.Tensor"]):
    """The tensors of a GGUF file under the model's state-dict names, read when asked.

    Raises `NotPerTensor` for architectures that transformers reads with cross-tensor steps.
    """

    def __init__(self, path: Path, model: nn.Module, rename: Optional[Callable[[str], Optional[str]]] = None):
        from gguf import GGUFReader
        from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, LlamaTensorProcessor, TensorProcessor

        reader = GGUFReader(str(path))  # a memory map: tensors are read when touched
        architecture = _architecture(reader)
        processor_class = TENSOR_PROCESSORS.get(architecture, TensorProcessor)
        if processor_class not in (TensorProcessor, LlamaTensorProcessor):
            raise NotPerTensor(f"{architecture!r} tensors are processed across tensors by transformers")
        self._processor = processor_class(config=_hf_config(model).to_dict())
        self.path = path
        key_map = gguf_to_model_names(model, architecture)
        self._tensors: dict[str, Any] = {}
        for tensor in reader.tensors:
            name = key_map.get(tensor.name)
            if name is not None and rename is not None:
                name = rename(name)
            if name is not None:
                self._tensors[name] = tensor

    def __getitem__(self, name: str) -> torch.Tensor:
        import numpy as np
        import torch
        from gguf import dequantize

        tensor = self._tensors[name]
        weights = self._processor.process(weights=dequantize(tensor.data, tensor.tensor_type), name=tensor.name).weights
        return torch.from_numpy(
            np.ascontiguousarray(weights, dtype=np.float32) if weights.dtype != np.float32 else np.array(weights)
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def tensor_types(self) -> dict[str, str]:
        """Model tensor name -> GGUF type name (``"Q4_1"``, ``"F32"``...)."""
        return {name: tensor.tensor_type.name for name, tensor in self._tensors.items()}

    def quantized_blocks(self, name: str) -> Optional[Any]:
        """The rows of blocks of a 2-D Q8_0 / Q4_0 / Q4_1 tensor as stored (q/k rows un-permuted)."""
        import numpy as np
        import torch

        from autodeploy.weight_conversions import QuantizedBlocks

        tensor = self._tensors.get(name)
        if tensor is None or tensor.tensor_type.name not in DIRECT_TYPES or len(tensor.shape) != 2:
            return None
        rows = self._processor.process(weights=tensor.data, name=tensor.name).weights  # reorders rows only
        shape = (int(tensor.shape[1]), int(tensor.shape[0]))  # GGUF lists dimensions innermost first
        data = torch.from_numpy(np.array(rows, dtype=np.uint8, copy=True))
        return QuantizedBlocks(kind=f"gguf:{tensor.tensor_type.name}", shape=shape, data=data)
