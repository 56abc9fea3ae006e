"""Post-load norm fusions: pick the RMSNorm kernel (``fuse_rmsnorm``) and join a residual add
with the norm that reads it (``fuse_add_rms_norm``).

Both work on the ``autodeploy::torch_rmsnorm`` nodes ``match_rmsnorm_pattern`` left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph_nodes import drop_metadata_assertions, is_call, stable_topological_sort

if TYPE_CHECKING:
    from torch import fx

RMSNORM = "autodeploy.torch_rmsnorm.default"
FUSED_ADD_RMSNORM = "autodeploy.fused_add_rms_norm.default"
_ADD = "aten.add.Tensor"


def set_rmsnorm_backend(gm: fx.GraphModule, backend: str) -> int:
    """Make every RMSNorm op of `gm` (plain or fused with the add) use `backend`; returns how many."""
    from autodeploy.ops import RMSNORM_BACKENDS

    if backend not in RMSNORM_BACKENDS:
        raise ValueError(f"unknown rmsnorm backend {backend!r}; known: {', '.join(RMSNORM_BACKENDS)}")
    count = 0
    for node in gm.graph.nodes:
        if is_call(node, RMSNORM):
            node.args = (*node.args[:3], backend)
            node.kwargs = {}
            count += 1
        elif is_call(node, FUSED_ADD_RMSNORM):
            node.args = (*node.args[:4], backend)
            node.kwargs = {}
            count += 1
    if count:
        gm.recompile()
    return count


def fuse_add_rmsnorms(gm: fx.GraphModule) -> int:
    """``h = a + b; n = rmsnorm(h)`` -> ``n, h = fused_add_rms_norm(a, b)``; returns how many.

    Only when both addends are tensors of the norm's shape (a residual stream), so that the fused
    op's broadcast never differs from the graph's.
    """
    import operator

    import torch

    import autodeploy.ops  # noqa: F401 - registers the op

    op = torch.ops.autodeploy.fused_add_rms_norm.default
    count = 0
    for norm in list(gm.graph.nodes):
        if not is_call(norm, RMSNORM):
            continue
        added = norm.args[0]
        if not is_call(added, _ADD) or len(added.args) != 2 or added.kwargs.get("alpha", 1) != 1:
            continue
        a, b = added.args
        if not (_same_shape(a, added) and _same_shape(b, added)):
            continue
        backend = norm.args[3] if len(norm.args) > 3 else "torch"
        with gm.graph.inserting_before(norm):
            fused = gm.graph.call_function(op, (a, b, norm.args[1], norm.args[2], backend))
            normed = gm.graph.call_function(operator.getitem, (fused, 0))
            residual = gm.graph.call_function(operator.getitem, (fused, 1))
        if "val" in norm.meta and "val" in added.meta:
            normed.meta["val"], residual.meta["val"] = norm.meta["val"], added.meta["val"]
            fused.meta["val"] = (norm.meta["val"], added.meta["val"])
        norm.replace_all_uses_with(normed)
        gm.graph.erase_node(norm)
        drop_metadata_assertions(added)
        added.replace_all_uses_with(residual)
        gm.graph.erase_node(added)
        count += 1
    if count:
        stable_topological_sort(gm)  # readers of a sum that came before its norm move after it
        gm.graph.lint()
        gm.recompile()
    return count


def _same_shape(a: object, b: object) -> bool:
    from torch import fx

    if not isinstance(a, fx.Node) or not isinstance(b, fx.Node):
        return False
    va, vb = a.meta.get("val"), b.meta.get("val")
    if va is None or vb is None or not hasattr(va, "shape") or not hasattr(vb, "shape"):
        return False
    return (
        va.dim() == vb.dim()
        and all(str(x) == str(y) for x, y in zip(va.shape, vb.shape, strict=True))
        and va.dtype == vb.dtype
    )
