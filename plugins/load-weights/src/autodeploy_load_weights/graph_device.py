"""After loading, exported graphs may still create tensors on the build device.

torch.export bakes the device of tensor-creating ops (``arange``, ``to``, ... with
``device=meta``) into the graph; the core's `autodeploy.graph.retarget_device` rewrites them.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import fx, nn

from autodeploy.graph import named_graphmodules, retarget_device


def retarget_graphs(module: nn.Module, device: str) -> int:
    """Retarget every GraphModule in `module` to `device`; returns the number of nodes changed.

    `retarget_device` handles the GraphModules nested in the one it is given and recompiles
    what it changed, so it is called on the outermost ones only.
    """
    graphs = _outermost(named_graphmodules(module))
    if not graphs:
        return 0
    return sum(retarget_device(gm, device) for gm in graphs)


def _outermost(named: Iterable[tuple[str, fx.GraphModule]]) -> list[fx.GraphModule]:
    """The GraphModules not inside another one (`named` lists outer modules first)."""
    kept: list[tuple[str, fx.GraphModule]] = []
    for name, gm in named:
        if not any(outer == "" or name.startswith(outer + ".") for outer, _ in kept):
            kept.append((name, gm))
    return [gm for _, gm in kept]
