"""Non-persistent buffers: not in checkpoints, so after a meta build they are still on meta.

The factory computes them on the target device (`ModelFactory.init_buffers`, e.g. rotary
``inv_freq``); they are put in place by name. Anything still on meta afterwards would fail at
the first forward with "Cannot copy out of meta tensor", so it is reported here instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import nn

from autodeploy import AutodeployError, first_few

from .slots import owner_and_leaf

logger = logging.getLogger(__name__)


def place_buffers(module: nn.Module, buffers: Mapping[str, torch.Tensor], device: str) -> int:
    """Put each of `buffers` where the module has a buffer of that name; returns how many.

    Names the module does not have are logged and ignored: a factory may compute buffers for
    parts of its model that a transform has since removed.
    """
    known = {name for name, _ in module.named_buffers(remove_duplicate=False)}
    placed = 0
    for name, value in buffers.items():
        if name not in known:
            logger.debug("init_buffers gave %s, which the module does not have; ignored", name)
            continue
        owner, leaf = owner_and_leaf(module, name)
        setattr(owner, leaf, value.to(device))
        placed += 1
    return placed


def check_nothing_on_meta(module: nn.Module, source: str) -> None:
    """Raise naming every parameter or buffer still on the meta device (what the factory missed)."""
    left = [name for name, t in module.named_parameters(remove_duplicate=False) if t.is_meta]
    left += [name for name, t in module.named_buffers(remove_duplicate=False) if t is not None and t.is_meta]
    if not left:
        return
    shown = first_few(left, sort=False)
    raise AutodeployError(
        f"after loading, these tensors are still on the meta device: {shown}. They are neither in "
        f"the checkpoint nor computed by the factory's init_buffers() ({source}); the model cannot run."
    )
