"""Float32 and bfloat16 linears on the CPU with weights packed once in oneDNN's blocked layout.

``F.linear`` re-reads a plain row-major weight at every call and, for a decode step's few rows,
takes MKL's matrix-vector path far below the memory bandwidth. oneDNN's linear over a weight
reordered once for its kernels (``torch.ops.mkldnn._reorder_linear_weight``, the packing
torch-inductor's CPU backend uses) does better at every row count. Measured on 2 cores (loaded,
hence the ranges) over SmolLM2-135M's 121 linears with fusions on (q/k/v and gate/up joined),
ms per step:

====  ========  ====================  ======
rows  F.linear  ``weight @ x.T``      packed
====  ========  ====================  ======
1     47-55     31-35                 26-34
8     62-87     53-83                 26-50
32    108-153   112-124               54-92
830   1460-1815 1560-1740             1270-1320
====  ========  ====================  ======

On a quiet machine one row is the exception: ``weight @ x.T`` 20 ms against 27 ms packed (and
46 ms for ``F.linear``); keeping both forms would double the weights' memory, so packed it is.
bfloat16, quiet: 1 row 20 ms with ``F.linear`` against 14 ms packed, 8 rows 25 against 15.

The packed weight replaces the plain one (no extra memory; a weight something else also reads,
such as a tied embedding, stays beside its packed copy). It lives in a `PackedWeight` holder that
turns back into the plain tensor when the module is copied or pickled (oneDNN's opaque tensors
cannot be). The module's ``state_dict()`` still lists each replaced weight under its name (a
plain copy, made on the call) and ``load_state_dict`` packs what it is given, so code that reads
or restores weights after compile sees the module it knew.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import torch
from torch import fx

from .skinny_linear import held_tensor

PACKED_FOR_ROWS = 8
"""The row count oneDNN's reorder is told to expect (a decode step of a few sequences); the
measurements above were taken with it, and it does no worse than a plain weight at one row or
at a prefill's hundreds."""


PACKED_DTYPES = (torch.float32, torch.bfloat16)


def packing_available() -> bool:
    """Whether this torch build has oneDNN with the linear reorder (x86 and arm CPU builds do)."""
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")


class PackedWeight:
    """A float32 or bfloat16 ``[out, in]`` weight in oneDNN's layout, for `packed_linear`.

    Copies, pickles and ``torch.save`` go through the plain tensor and pack again on the way back.
    """

    __slots__ = ("dtype", "packed", "shape")

    def __init__(self, weight: torch.Tensor) -> None:
        self.shape = tuple(weight.shape)
        self.dtype = weight.dtype
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), PACKED_FOR_ROWS)

    def dense(self) -> torch.Tensor:
        """The weight as a plain row-major tensor (a copy)."""
        return self.packed.to_dense()

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedWeight, (self.dense(),))

    def __repr__(self) -> str:
        return f"PackedWeight(shape={self.shape}, dtype={self.dtype}, packed for {PACKED_FOR_ROWS} rows)"


def packed_linear(x: torch.Tensor, weight: PackedWeight, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear(x, weight.dense(), bias)`` through oneDNN, without unpacking the weight."""
    return torch.ops.mkldnn._linear_pointwise(x, weight.packed, bias, "none", [], "")


def use_packed_linears(gm: fx.GraphModule) -> int:
    """Point every ``aten.linear`` node of `gm` whose weight is a `PACKED_DTYPES` CPU matrix held by
    the module at `packed_linear` over a packed copy; the plain weight is dropped from the module
    when no node reads it any more. Returns how many nodes changed (the caller recompiles).

    One weight at a time, its plain form dropped before the next is packed: the peak memory is
    the model's plus one weight, not twice the model's.
    """
    if not packing_available():
        return 0
    linears: dict[str, list[tuple[fx.Node, fx.Node]]] = {}  # weight target -> (linear, weight node)
    for node in gm.graph.nodes:
        if node.op != "call_function" or node.target is not torch.ops.aten.linear.default:
            continue
        if len(node.args) < 2 or node.kwargs or not isinstance(node.args[1], fx.Node):
            continue
        weight = held_tensor(gm, node.args[1])
        if weight is None or weight.dtype not in PACKED_DTYPES or weight.device.type != "cpu" or weight.dim() != 2:
            continue
        linears.setdefault(str(node.args[1].target), []).append((node, node.args[1]))
    weight = None  # hold no plain weight here: each one goes as soon as its packed copy exists
    for target, nodes in linears.items():
        attribute = _free_attribute(gm, "packed_" + target.replace(".", "_"))
        weight = held_tensor(gm, nodes[0][1])
        assert weight is not None  # checked when collected
        setattr(gm, attribute, PackedWeight(weight))
        weight = None
        for node, weight_node in nodes:
            with gm.graph.inserting_before(node), warnings.catch_warnings():
                # fx expects get_attr to read a parameter, buffer or module; a holder reads fine too
                warnings.simplefilter("ignore", UserWarning)
                holder = gm.graph.get_attr(attribute)
            node.target = packed_linear
            node.args = (node.args[0], holder, *node.args[2:])
            if not weight_node.users:
                gm.graph.erase_node(weight_node)
        if not any(n.op == "get_attr" and str(n.target) == target for n in gm.graph.nodes):
            if _drop_attribute(gm, target):
                _replaced_weights(gm)[target] = attribute
    return sum(len(nodes) for nodes in linears.values())


REPLACED = "_autodeploy_packed_weights"
"""The attribute of a GraphModule mapping each weight it no longer holds to its packed copy."""


def _replaced_weights(gm: fx.GraphModule) -> dict[str, str]:
    """The module's map of replaced weights, made (and its state-dict hooks set) on first use."""
    replaced = gm.__dict__.get(REPLACED)
    if replaced is None:
        replaced = gm.__dict__[REPLACED] = {}
        gm.register_state_dict_post_hook(_state_dict_with_plain_weights)
        gm.register_load_state_dict_pre_hook(_pack_loaded_weights)
    return replaced


def _state_dict_with_plain_weights(module: Any, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    for target, attribute in module.__dict__.get(REPLACED, {}).items():
        state_dict[prefix + target] = getattr(module, attribute).dense()


def _pack_loaded_weights(module: Any, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
    for target, attribute in module.__dict__.get(REPLACED, {}).items():
        if prefix + target in state_dict:
            setattr(module, attribute, PackedWeight(state_dict.pop(prefix + target)))


def _free_attribute(gm: fx.GraphModule, name: str) -> str:
    candidate, number = name, 1
    while hasattr(gm, candidate):
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def _drop_attribute(gm: fx.GraphModule, target: str) -> bool:
    """Remove a parameter or buffer the graph no longer reads, so that its memory can go."""
    owner_path, _, leaf = target.rpartition(".")
    try:
        owner = gm.get_submodule(owner_path) if owner_path else gm
    except AttributeError:
        return False
    if leaf in owner._parameters:
        del owner._parameters[leaf]
    elif leaf in owner._buffers:
        del owner._buffers[leaf]
    else:
        return False
    return True
