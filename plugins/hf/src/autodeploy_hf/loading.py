"""Putting values into a built model: streamed checkpoint shards, fresh initialisation, buffers.

The factory decides what to load; these functions do the tensor work. Streamed tensors are
assigned (``load_state_dict(assign=True)``): a memory-mapped safetensors tensor that already has
the model's dtype and device becomes the parameter as is, without a copy. Memory maps are
private (copy-on-write), so writing into a loaded parameter never reaches the checkpoint file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


def assign_shards(model: nn.Module, shards: Iterable[tuple[str, Mapping[str, torch.Tensor]]], device: str) -> set[str]:
    """Assign each shard's tensors (model names) on `device` in the model's dtypes; the names loaded.

    Names the model does not have are skipped. One shard is held at a time.
    """
    import torch

    targets = model.state_dict(keep_vars=True)
    loaded: set[str] = set()
    with torch.no_grad():
        for _shard_name, tensors in shards:
            ready = {
                name: tensor.to(device=device, dtype=targets[name].dtype)
                for name, tensor in tensors.items()
                if name in targets
            }
            model.load_state_dict(ready, strict=False, assign=True)
            loaded.update(ready)
    return loaded


def initialise_like_transformers(model: nn.Module, device: str) -> None:
    """Give `model` (e.g. on meta) fresh storage on `device`, initialised as transformers does."""
    import torch

    model.to_empty(device=device)
    with torch.no_grad():
        model.initialize_weights()  # type: ignore[operator]  # a PreTrainedModel method


def tie_weights(model: nn.Module) -> None:
    """Tie shared parameters (output layer = embedding), e.g. after parameters were replaced."""
    tie = getattr(model, "tie_weights", None)
    if callable(tie):
        tie()


def place_buffers(model: nn.Module, buffers: Mapping[str, torch.Tensor]) -> None:
    """Put buffers (full names, e.g. ``model.rotary_emb.inv_freq``) into their modules."""
    for name, value in buffers.items():
        module_name, _, local = name.rpartition(".")
        module = model.get_submodule(module_name) if module_name else model
        module._buffers[local] = value
