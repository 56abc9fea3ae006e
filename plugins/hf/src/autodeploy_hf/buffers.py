"""Recomputing a model's non-persistent buffers on a device, after a build on meta.

Non-persistent buffers (rotary ``inv_freq``/``original_inv_freq``, vision ``position_ids``,
Gemma's ``embed_scale``...) are not in checkpoints: the module computes them in its constructor.
After a meta build they are meta tensors, so a weight loader must get their values elsewhere.

transformers has the same problem in ``from_pretrained`` (it also builds on meta) and solves it by
re-running each model's ``_init_weights`` on the modules that own such buffers: every native model
keeps its ``_init_weights`` able to recompute them. We do the same, one small module at a time, on
the target device: parameters stay on meta, nothing large is allocated.

As a safety net (remote code whose ``_init_weights`` ignores its buffers), each buffer is first
filled with a sentinel (NaN, or the smallest integer); a buffer still all-sentinel afterwards is
taken from a second build of the model on the device without weight initialisation, where the
constructors compute it themselves. That costs a full (uninitialised) allocation, so it is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import torch
    from torch import nn

logger = logging.getLogger(__name__)


def named_non_persistent_buffers(model: nn.Module) -> Iterator[tuple[str, str, nn.Module]]:
    """(full buffer name, local name, owning module) for every non-persistent buffer of `model`."""
    for module_name, module in model.named_modules(remove_duplicate=False):
        for local_name in sorted(module._non_persistent_buffers_set):
            if module._buffers.get(local_name) is not None:
                yield (f"{module_name}.{local_name}" if module_name else local_name), local_name, module


def compute_non_persistent_buffers(
    skeleton: nn.Module,
    device: str,
    rebuild_on_device: Optional[Callable[[str], nn.Module]] = None,
) -> dict[str, torch.Tensor]:
    """Every non-persistent buffer of `skeleton` (usually built on meta), computed on `device`.

    Mutates `skeleton`'s buffers (they end up on `device`); pass a model you own. Keys are the
    model's buffer names (``model.rotary_emb.inv_freq``).
    """
    import torch

    entries = list(named_non_persistent_buffers(skeleton))
    if not entries:
        return {}
    owners = _init_owners(skeleton)
    buffers: dict[str, torch.Tensor] = {}
    modules_done: set[int] = set()
    with torch.no_grad():
        for _, local_name, module in entries:
            module._buffers[local_name] = _sentinel_like(module._buffers[local_name], device)  # type: ignore[arg-type]
        with torch.device(device):
            for _, _, module in entries:
                owner = owners.get(id(module))
                if owner is None or id(module) in modules_done:
                    continue
                modules_done.add(id(module))
                owner._init_weights(module)  # type: ignore[operator]  # a PreTrainedModel method
        for full_name, local_name, module in entries:
            buffers[full_name] = module.get_buffer(local_name)

    untouched = [name for name, value in buffers.items() if _still_sentinel(value)]
    if untouched:
        if rebuild_on_device is None:
            raise RuntimeError(f"cannot compute non-persistent buffers {', '.join(untouched)} on {device}")
        logger.warning(
            "the model's _init_weights does not recompute %s; building the model once more on %s to get them",
            ", ".join(untouched),
            device,
        )
        rebuilt = dict(rebuild_on_device(device).named_buffers(remove_duplicate=False))
        for name in untouched:
            buffers[name] = rebuilt[name]
    return buffers


def _init_owners(model: nn.Module) -> dict[int, nn.Module]:
    """For each module (by id), the innermost transformers PreTrainedModel containing it.

    Composite models (a vision tower inside a VLM) have sub-models with their own ``_init_weights``.
    """
    from transformers import PreTrainedModel

    owners: dict[int, nn.Module] = {}

    def visit(module: nn.Module, owner: Optional[nn.Module]) -> None:
        if isinstance(module, PreTrainedModel):
            owner = module
        if owner is not None:
            owners[id(module)] = owner
        for child in module.children():
            visit(child, owner)

    visit(model, None)
    return owners


def _sentinel_like(buffer: torch.Tensor, device: str) -> torch.Tensor:
    import torch

    if buffer.dtype.is_floating_point or buffer.dtype.is_complex:
        return torch.full(buffer.shape, float("nan"), dtype=buffer.dtype, device=device)
    if buffer.dtype == torch.bool:
        return torch.zeros(buffer.shape, dtype=buffer.dtype, device=device)
    return torch.full(buffer.shape, torch.iinfo(buffer.dtype).min, dtype=buffer.dtype, device=device)


def _still_sentinel(value: torch.Tensor) -> bool:
    """Whether nothing wrote the buffer. Bool buffers cannot be told apart, so they count as unwritten."""
    import torch

    if value.device.type == "meta":
        return True
    if value.numel() == 0:
        return False
    if value.dtype.is_floating_point or value.dtype.is_complex:
        return bool(torch.isnan(value).all())
    if value.dtype == torch.bool:
        return True
    return bool((value == torch.iinfo(value.dtype).min).all())
