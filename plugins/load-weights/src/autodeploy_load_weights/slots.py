"""Where each checkpoint tensor goes: the module's parameters and persistent buffers.

Names that share one tensor (tied weights, e.g. ``lm_head.weight`` and
``model.embed_tokens.weight``) share one `TensorSlot`, so that a tensor loaded under any of
its names is put under all of them: the tie survives the load, and a checkpoint that stores the
tied tensor once (as ``save_pretrained`` does) is complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TensorSlot:
    """One tensor of the module, under every name it has (module order; the first is primary)."""

    names: list[str]
    is_parameter: bool
    shape: tuple[int, ...]
    dtype: torch.dtype
    requires_grad: bool

    @property
    def primary(self) -> str:
        return self.names[0]


def collect_slots(module: nn.Module) -> dict[str, TensorSlot]:
    """Every state-dict name of `module` mapped to its slot; tied names map to the same slot.

    Non-persistent buffers are left out: they are not in checkpoints (see `buffers`).
    """
    by_identity: dict[int, TensorSlot] = {}
    slots: dict[str, TensorSlot] = {}
    for name, param in module.named_parameters(remove_duplicate=False):
        _add(slots, by_identity, name, param, is_parameter=True)
    for name, buffer in module.named_buffers(remove_duplicate=False):
        if buffer is not None and is_persistent_buffer(module, name):
            _add(slots, by_identity, name, buffer, is_parameter=False)
    return slots


def unique_slots(slots: dict[str, TensorSlot]) -> list[TensorSlot]:
    """Each slot once, in module order."""
    seen: dict[int, TensorSlot] = {}
    for slot in slots.values():
        seen.setdefault(id(slot), slot)
    return list(seen.values())


def is_persistent_buffer(module: nn.Module, name: str) -> bool:
    owner, leaf = owner_and_leaf(module, name)
    return leaf not in owner._non_persistent_buffers_set


def owner_and_leaf(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    """The submodule holding the attribute `name` (dotted) and the attribute's own name."""
    owner_name, _, leaf = name.rpartition(".")
    return (module.get_submodule(owner_name) if owner_name else module), leaf


def assign(module: nn.Module, slot: TensorSlot, tensor: torch.Tensor) -> None:
    """Put `tensor` (as is, no copy) under every name of `slot`, as a parameter or a buffer.

    A parameter given is put as is (the same object under several slots is a tie).
    """
    value: torch.Tensor = tensor
    if slot.is_parameter and not isinstance(tensor, nn.Parameter):
        value = nn.Parameter(tensor, requires_grad=slot.requires_grad and tensor.is_floating_point())
    for name in slot.names:
        owner, leaf = owner_and_leaf(module, name)
        setattr(owner, leaf, value)


def current_tensor(module: nn.Module, slot: TensorSlot) -> torch.Tensor:
    owner, leaf = owner_and_leaf(module, slot.primary)
    return getattr(owner, leaf)


def move_slots(module: nn.Module, slots: Iterable[TensorSlot], device: str) -> None:
    """Move every slot's tensor to `device`, keeping ties (one move per tensor, not per name)."""
    for slot in slots:
        tensor = current_tensor(module, slot)
        assign(module, slot, tensor.detach().to(device))


def _add(
    slots: dict[str, TensorSlot],
    by_identity: dict[int, TensorSlot],
    name: str,
    tensor: torch.Tensor,
    is_parameter: bool,
) -> None:
    slot = by_identity.get(id(tensor))
    if slot is None:
        slot = TensorSlot(
            names=[name],
            is_parameter=is_parameter,
            shape=tuple(tensor.shape),
            dtype=tensor.dtype,
            requires_grad=tensor.requires_grad,
        )
        by_identity[id(tensor)] = slot
    else:
        slot.names.append(name)
    slots[name] = slot
