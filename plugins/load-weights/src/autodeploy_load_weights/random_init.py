"""Random weights for runs that skip the checkpoint (``skip_loading_weights``): a usable model
for testing pipelines and measuring speed, never a trained one.

Every parameter and persistent buffer is allocated on the device (uninitialised, like
``to_empty``) and then filled deterministically from a seeded generator, by one simple rule in
the spirit of the usual decoder initialisation, applied alike to eager modules and to exported
GraphModules (which have no ``reset_parameters``):

- matrices and higher (linear, embedding weights): normal(0, std), std 0.02 by default;
- biases (names ending in ``bias``): zeros;
- other 1-D parameters (norm scales): ones;
- integer parameters and persistent buffers: zeros (a persistent buffer's true value is only in
  the checkpoint; those zeroed are logged).

Tied names get one tensor (the tie is kept). The same seed, device and module give the same
weights; the global RNG is neither used nor disturbed.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from .slots import TensorSlot, assign, collect_slots, unique_slots

logger = logging.getLogger(__name__)


def random_init(module: nn.Module, device: str, seed: int, std: float) -> list[TensorSlot]:
    """Materialise every slot of `module` on `device` with random weights; returns the slots."""
    slots = unique_slots(collect_slots(module))
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    zeroed_buffers = []
    for slot in slots:
        tensor = torch.empty(slot.shape, dtype=slot.dtype, device=device)
        _fill(tensor, slot, generator, std)
        if not slot.is_parameter:
            zeroed_buffers.append(slot.primary)
        assign(module, slot, tensor)
    if zeroed_buffers:
        logger.info("random init: persistent buffers set to zeros: %s", ", ".join(zeroed_buffers))
    return slots


def _fill(tensor: torch.Tensor, slot: TensorSlot, generator: torch.Generator, std: float) -> None:
    if not slot.is_parameter or not tensor.is_floating_point() or slot.primary.endswith("bias"):
        tensor.zero_()
    elif tensor.dim() <= 1:
        tensor.fill_(1.0)
    else:
        tensor.normal_(0.0, std, generator=generator)
