"""torch-simple: the graph runs as plain generated Python, so make each of its calls cheap.

Without a compiler the per-call cost of every node is paid at each step, and for a decode step
(one token) that cost is of the order of the work itself. Three kinds of node cost more than they
need to:

- **Python custom ops** (``torch.library.custom_op``, e.g. ``autodeploy::fused_add_rms_norm``):
  a call through the dispatcher goes through autograd, ADInplaceOrView and schema-default filling
  in Python before reaching the function: measured ~100-170 us a call against ~35-60 us for the
  function itself (the norm), ~120 such calls per SmolLM2 decode step. For an op whose only
  kernel is its Python function (no device-specific kernel), the node calls that function.
- **Export's metadata assertions** (``aten._assert_tensor_metadata``) and casts to the dtype the
  tensor already has (``aten.to.dtype``, which returns its input): ~8-11 us each, no effect.
- **Float32 and bfloat16 linears on the CPU**: a decode step's few float32 rows take MKL's slow
  matrix-vector path. Where torch has oneDNN, `autodeploy_compile.packed_linear` packs each
  weight once in oneDNN's layout (in place of the plain one) and calls its linear: about 2x
  faster than ``F.linear`` for SmolLM2 at 1 to 32 rows, 1.3x at a prefill's hundreds; bfloat16
  1.4-1.7x. Elsewhere `autodeploy_compile.skinny_linear` computes few float32 rows as
  ``weight @ x.T``.

Only for inference: the function is called without autograd's wrapper (a module that trains
keeps the op). Torch-compile and CUDA-graph backends keep the graph as it is (they trace or
capture the ops themselves).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import torch
from torch import fx, nn

from .packed_linear import use_packed_linears
from .skinny_linear import use_skinny_linears


def call_ops_directly(mod: nn.Module) -> dict[str, int]:
    """Rewrite every GraphModule in `mod` in place; returns how many nodes of each kind changed."""
    from autodeploy.graph import named_graphmodules

    counts = {"direct_calls": 0, "removed_nodes": 0, "packed_linears": 0, "skinny_linears": 0}
    for _name, gm in named_graphmodules(mod):
        packed = use_packed_linears(gm)
        skinny = use_skinny_linears(gm)  # the float32 linears left (all of them without oneDNN)
        direct, removed = _rewrite(gm)  # recompiles when it changed something
        if (packed or skinny) and not (direct or removed):
            gm.graph.lint()
            gm.recompile()
        counts["direct_calls"] += direct
        counts["removed_nodes"] += removed
        counts["packed_linears"] += packed
        counts["skinny_linears"] += skinny
    return counts


def python_kernel(target: Any) -> Optional[Callable[..., Any]]:
    """The Python function behind a custom op's overload, when that function is its only kernel."""
    if not isinstance(target, torch._ops.OpOverload):
        return None
    from torch._library.custom_ops import OPDEFS

    opdef = OPDEFS.get(target._schema.name)
    if opdef is None or target._overloadname != "default":
        return None
    kernels = getattr(opdef, "_backend_fns", None)
    function = getattr(opdef, "_init_fn", None)
    if function is None or kernels is None or set(kernels) != {None} or getattr(opdef, "_torch_dispatch_fns", None):
        return None
    return function


def _rewrite(gm: fx.GraphModule) -> tuple[int, int]:
    direct = removed = 0
    assertion = torch.ops.aten._assert_tensor_metadata.default
    for node in list(gm.graph.nodes):
        if node.op != "call_function":
            continue
        if node.target is assertion and not node.users:
            gm.graph.erase_node(node)
            removed += 1
        elif node.target is torch.ops.aten.to.dtype and _same_dtype_cast(node):
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)
            removed += 1
        elif (function := python_kernel(node.target)) is not None:
            node.target = function
            direct += 1
    if direct or removed:
        gm.graph.lint()
        gm.recompile()
    return direct, removed


def _same_dtype_cast(node: fx.Node) -> bool:
    """``aten.to.dtype(x, dtype)`` with only x and dtype, where x is known to have that dtype."""
    if len(node.args) != 2 or node.kwargs or not isinstance(node.args[0], fx.Node):
        return False
    value = node.args[0].meta.get("val")
    return isinstance(value, torch.Tensor) and value.dtype == node.args[1]
