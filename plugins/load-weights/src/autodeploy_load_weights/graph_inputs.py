"""``move_inputs_to_device`` for one exported graph: what the graph records about its inputs and
constants is put on the target device.

After an export on the meta device, the placeholders' example values (``meta["val"]``, fake
tensors used by shape propagation) say ``device=meta``, and a constant the graph reads with
``get_attr`` (a lifted tensor constant, or a weight a later transform added) may sit on another
device than the one the model runs on.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx, nn

from autodeploy import AutodeployError

from .slots import owner_and_leaf


def move_graph_inputs(gm: fx.GraphModule, device: str) -> int:
    """Move placeholder values and ``get_attr`` tensors of `gm` to `device`; returns how many moved."""
    target = torch.device(device)
    return _move_placeholder_values(gm, target) + _move_constants(gm, target)


def _move_placeholder_values(gm: fx.GraphModule, device: torch.device) -> int:
    moved = 0
    for node in gm.graph.nodes:
        if node.op != "placeholder":
            continue
        value = node.meta.get("val")
        if isinstance(value, torch.Tensor) and not _is_on(value, device):
            node.meta["val"] = _value_on(value, device)
            moved += 1
    return moved


def _move_constants(gm: fx.GraphModule, device: torch.device) -> int:
    moved_by_identity: dict[int, torch.Tensor] = {}  # tied attributes stay one tensor
    for node in gm.graph.nodes:
        if node.op != "get_attr":
            continue
        owner, leaf = owner_and_leaf(gm, node.target)
        value = getattr(owner, leaf, None)
        if not isinstance(value, torch.Tensor) or _is_on(value, device):
            continue
        if value.is_meta:
            raise AutodeployError(
                f"graph constant {node.target!r} is on the meta device and has no data to move to "
                f"{device}; run load_weights (stage weight_load) before move_inputs_to_device"
            )
        moved = moved_by_identity.get(id(value))
        if moved is None:
            moved = value.detach().to(device)
            if isinstance(value, nn.Parameter):
                moved = nn.Parameter(moved, requires_grad=value.requires_grad)
            moved_by_identity[id(value)] = moved
        setattr(owner, leaf, moved)
    return len(moved_by_identity)


def _is_on(tensor: torch.Tensor, device: torch.device) -> bool:
    """On `device`; a device without index (``cuda``) accepts any index of its type."""
    return tensor.device.type == device.type and (device.index is None or tensor.device.index == device.index)


def _value_on(value: torch.Tensor, device: torch.device) -> Any:
    """The same example value on `device`: a fake tensor stays fake (no memory), in its own mode."""
    fake_mode = getattr(value, "fake_mode", None)
    if fake_mode is not None:
        with fake_mode:
            return value.to(device)
    if value.is_meta:
        return torch.empty_like(value, device=device)
    return value.to(device)
