"""Move devices baked into a graph's nodes, e.g. after exporting on meta and loading on cpu/cuda.

Exporting a model whose weights are on the meta device records ``device=meta`` in every node
that creates or moves a tensor: ``aten.arange(..., device=meta)``, ``aten.to.device(x, meta, ...)``
(the device as a positional argument), ``aten._assert_tensor_metadata(..., device=meta)`` and
so on. Loading the weights does not touch the graph, so after the load these nodes would make
meta tensors (or fail their assertions). `retarget_device` rewrites them to the weights'
device and recompiles the graph.

Public as ``from autodeploy.graph import retarget_device``: the export plugin makes such graphs,
the weight-loading plugin calls it after it put the weights in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import torch
    from torch import fx

DeviceLike = Union[str, "torch.device"]


def retarget_device(gm: fx.GraphModule, device: DeviceLike, source: DeviceLike = "meta") -> int:
    """Replace every `source` device (default meta) in the node arguments of `gm` by `device`.

    Devices are found in positional and keyword arguments, nested in lists, tuples and dicts,
    as ``torch.device`` objects or device strings. GraphModules nested in `gm` (e.g. the
    branches of ``torch.cond``) are rewritten too. Every changed graph is recompiled.

    Returns the number of nodes changed (0: nothing pointed at `source`).
    """
    import torch
    from torch import fx

    target = torch.device(device)
    source = torch.device(source)
    if target == source:
        return 0

    swapped = False

    def swap(value: Any) -> Any:
        nonlocal swapped
        if isinstance(value, torch.device) and value == source:
            swapped = True
            return target
        if isinstance(value, str) and _is_device_string(value) and torch.device(value) == source:
            swapped = True
            return str(target)
        return value

    changed = 0
    for module in gm.modules():
        if not isinstance(module, fx.GraphModule):
            continue
        changed_here = 0
        for node in module.graph.nodes:
            swapped = False
            new_args = fx.node.map_aggregate(node.args, swap)
            new_kwargs = fx.node.map_aggregate(node.kwargs, swap)
            if swapped:
                node.args = new_args
                node.kwargs = new_kwargs
                changed_here += 1
        if changed_here:
            module.recompile()
            changed += changed_here
    return changed


def _is_device_string(value: str) -> bool:
    """A string that names a device ("meta", "cpu", "cuda:1"), not just any string argument."""
    import torch

    if not value or value.strip() != value:
        return False
    try:
        torch.device(value)
    except (RuntimeError, ValueError):
        return False
    return True
