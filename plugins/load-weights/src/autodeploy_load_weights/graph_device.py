"""After loading, exported graphs may still create tensors on the build device.

torch.export bakes the device of tensor-creating ops (``arange``, ``to``, ... with
``device=meta``) into the graph. The export plugin knows how to rewrite them
(`autodeploy_export.device_retarget.retarget_device`); it is used when installed. Without it,
no exported graph came from our pipeline and there is nothing we know how to rewrite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from torch import fx, nn

from autodeploy.transform.graph import named_graphmodules

logger = logging.getLogger("autodeploy.load_weights")


def retarget_graphs(module: nn.Module, device: str) -> int:
    """Retarget every GraphModule in `module` to `device`; returns the number of nodes changed.

    `retarget_device` handles the GraphModules nested in the one it is given and recompiles
    what it changed, so it is called on the outermost ones only.
    """
    graphs = _outermost(named_graphmodules(module))
    if not graphs:
        return 0
    try:
        from autodeploy_export.device_retarget import retarget_device
    except ImportError:
        logger.debug("autodeploy_export is not installed: graph devices not retargeted")
        return 0
    return sum(retarget_device(gm, device) for gm in graphs)


def _outermost(named: Iterable[tuple[str, fx.GraphModule]]) -> list[fx.GraphModule]:
    """The GraphModules not inside another one (`named` lists outer modules first)."""
    kept: list[tuple[str, fx.GraphModule]] = []
    for name, gm in named:
        if not any(outer == "" or name.startswith(outer + ".") for outer, _ in kept):
            kept.append((name, gm))
    return [gm for _, gm in kept]
