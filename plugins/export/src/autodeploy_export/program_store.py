"""An `ExportedProgram` as bytes and back, fast and without its weights (the export cache's format).

Why not ``torch.export.save``/``load``: measured on SmolLM2-135M (2269 nodes), loading the
``.pt2`` archive took about as long as exporting again (its symbolic shapes are re-parsed from
strings by sympy, node by node). And why not plain pickle: a GraphModule pickles as Python code
and is re-traced when unpickled, losing every node's metadata (``meta["val"]``, the fake values
that graph cleanups, shape checks and the input check need).

So the graph is written node by node: op, name, target (operators by their qualified name),
arguments (nodes by name) and the metadata worth keeping, with fake tensors reduced to their
symbolic sizes, strides, dtype and device (sympy expressions pickle as they are). Loading builds
the graph again and recreates the fake values in a fresh fake-tensor mode whose shape
environment knows the program's symbols and their ranges. The rest of the program (signature,
range constraints, call specs) pickles as it is, with its graph module taken out.

Weights never go in: parameters and buffers of the model become meta tensors of the same shape
and dtype, and `load_program` puts the live model's tensors back in by name, so a cached program
always runs on the weights of the model at hand.

A program this format cannot carry (data-dependent shapes, symbolic floats, submodules in the
graph) raises `NotStorable`; the caller then simply does not cache it.
"""

from __future__ import annotations

import copy
import pickle
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

from . import safe_unpickle

if TYPE_CHECKING:
    import torch
    from torch.export import ExportedProgram

FORMAT_VERSION = 1
"""Bump when what `dump_program` writes changes: older entries then no longer match the cache key."""

_KEPT_NODE_META = ("val", "tensor_meta", "nn_module_stack", "stack_trace", "torch_fn", "source_fn_stack")


class NotStorable(Exception):
    """This program cannot be written in this format (it is exported normally, just not cached)."""


class _Sym:
    """A symbolic int: its sympy expression and the example value it had (the hint)."""

    __slots__ = ("expr", "hint")

    def __init__(self, expr: Any, hint: Optional[int]):
        self.expr, self.hint = expr, hint


class _Fake:
    """A fake tensor: sizes and strides (ints or `_Sym`), storage offset, dtype, device."""

    __slots__ = ("sizes", "strides", "offset", "dtype", "device", "requires_grad")

    def __init__(self, sizes: Any, strides: Any, offset: Any, dtype: Any, device: str, requires_grad: bool):
        self.sizes, self.strides, self.offset = sizes, strides, offset
        self.dtype, self.device, self.requires_grad = dtype, device, requires_grad


class _NodeRef:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Operator:
    """An ``OpOverload`` (which does not pickle) by its qualified name and overload."""

    __slots__ = ("qualified", "overload")

    def __init__(self, qualified: str, overload: str):
        self.qualified, self.overload = qualified, overload


class _Size:
    __slots__ = ("dims",)

    def __init__(self, dims: tuple[Any, ...]):
        self.dims = dims


def dump_program(ep: ExportedProgram) -> bytes:
    """`ep` as bytes, its weights replaced by meta tensors; `NotStorable` when it cannot be."""

    graph_module = ep.graph_module
    if any(True for _ in graph_module.named_children()):
        raise NotStorable("the graph holds submodules (control flow)")
    nodes = []
    for node in graph_module.graph.nodes:
        if node.meta.get("unbacked_bindings"):
            raise NotStorable(f"node {node.name} has data-dependent sizes")
        meta = {key: _portable(node.meta[key]) for key in _KEPT_NODE_META if key in node.meta}
        nodes.append((node.op, node.name, _portable(node.target), _portable(node.args), _portable(node.kwargs), meta))
    with warnings.catch_warnings():
        # torch's pytree specs warn about their own deprecated classes when copied or pickled
        warnings.simplefilter("ignore", FutureWarning)
        return _dump(ep, nodes)


def _dump(ep: ExportedProgram, nodes: list[Any]) -> bytes:
    import torch

    shell = copy.copy(ep)
    shell._graph_module = None  # type: ignore[assignment]
    shell._example_inputs = None  # real tensors, never needed to run: an entry holds no tensor data
    shell._state_dict = {name: _weightless(tensor) for name, tensor in ep.state_dict.items()}
    shell._constants = {
        name: _weightless(value) if isinstance(value, torch.Tensor) else value for name, value in ep.constants.items()
    }
    try:
        data = pickle.dumps(
            {"format": FORMAT_VERSION, "program": shell, "nodes": nodes, "graph_meta": dict(ep.graph_module.meta)},
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    except Exception as exc:  # noqa: BLE001 - something in the program does not pickle: just not cached
        raise NotStorable(f"{type(exc).__name__}: {exc}") from exc
    try:
        safe_unpickle.loads(data)  # an entry the loader would refuse is not written at all
    except safe_unpickle.RefusedGlobal as exc:
        raise NotStorable(f"the program {exc}") from exc
    return data


def load_program(data: bytes, tensors: Mapping[str, torch.Tensor]) -> ExportedProgram:
    """The program `dump_program` wrote, its weights taken from `tensors` (names as in the program).

    Raises `ValueError` when the data is not such a program or a weight is missing or does not
    match (shape, dtype): the caller treats the entry as damaged or stale.
    """
    import torch
    from torch import fx

    with warnings.catch_warnings():
        # torch's pytree specs warn about their own deprecated classes while unpickling
        warnings.simplefilter("ignore", FutureWarning)
        payload = safe_unpickle.loads(data)  # never plain pickle: the entry may come from a shared cache
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise ValueError("not an export cache program of this format")
    ep = payload["program"]
    ep._state_dict = {name: _live(name, placeholder, tensors) for name, placeholder in ep.state_dict.items()}
    ep._constants = {
        name: _live(name, value, tensors)
        if isinstance(value, torch.Tensor) and value.is_meta and name in tensors
        else value
        for name, value in ep.constants.items()
    }
    rebuild = _Rebuilder(ep.range_constraints)
    graph = fx.Graph()
    for op, name, target, args, kwargs, meta in payload["nodes"]:
        node = graph.create_node(op, rebuild(target), rebuild(args), rebuild(kwargs), name=name)
        if node.name != name:
            raise ValueError(f"node name {name!r} came back as {node.name!r}")
        for key, value in meta.items():
            node.meta[key] = rebuild(value)
        rebuild.nodes[name] = node
    graph_module = fx.GraphModule(torch.nn.Module(), graph)
    graph_module.meta.update(payload["graph_meta"])
    ep._graph_module = graph_module
    return ep


def _weightless(tensor: torch.Tensor) -> torch.Tensor:
    """A meta tensor like `tensor` (a Parameter stays a Parameter): what the file keeps of a weight."""
    import torch

    meta = torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype, device="meta")
    if isinstance(tensor, torch.nn.Parameter):
        return torch.nn.Parameter(meta, requires_grad=tensor.requires_grad)
    return meta


def _live(name: str, placeholder: torch.Tensor, tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
    tensor = tensors.get(name)
    if tensor is None:
        raise ValueError(f"the model has no tensor {name!r}")
    if tuple(tensor.shape) != tuple(placeholder.shape) or tensor.dtype != placeholder.dtype:
        raise ValueError(
            f"tensor {name!r} is {tuple(tensor.shape)} {tensor.dtype}, the cached program expects "
            f"{tuple(placeholder.shape)} {placeholder.dtype}"
        )
    return tensor


def _portable(value: Any) -> Any:
    """`value` with nodes, operators, symbolic ints and fake tensors made picklable."""
    import torch
    from torch import fx
    from torch._subclasses.fake_tensor import FakeTensor

    if isinstance(value, fx.Node):
        return _NodeRef(value.name)
    if isinstance(value, torch._ops.OpOverload):
        return _Operator(value._schema.name, value._overloadname)
    if isinstance(value, torch.SymInt):
        return _Sym(value.node.expr, value.node.hint)
    if isinstance(value, (torch.SymFloat, torch.SymBool)):
        raise NotStorable(f"symbolic {type(value).__name__} values are not stored")
    if isinstance(value, FakeTensor):
        return _Fake(
            _portable(tuple(value.shape)),
            _portable(tuple(value.stride())),
            _portable(value.storage_offset()),
            value.dtype,
            str(value.device),
            value.requires_grad,
        )
    if isinstance(value, torch.Tensor):
        raise NotStorable("a real tensor in the graph's metadata")
    if isinstance(value, torch.Size):
        return _Size(tuple(_portable(dim) for dim in value))
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple (TensorMetadata)
        return type(value)(*(_portable(item) for item in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_portable(item) for item in value)
    if isinstance(value, dict):
        return {key: _portable(item) for key, item in value.items()}
    return value


class _Rebuilder:
    """Turns portable values back into graph values: nodes, operators, symbolic ints, fake tensors."""

    def __init__(self, range_constraints: Mapping[Any, Any]):
        from torch._subclasses.fake_tensor import FakeTensorMode
        from torch.fx.experimental.symbolic_shapes import ShapeEnv

        self.nodes: dict[str, Any] = {}
        self.shape_env = ShapeEnv()
        self.fake_mode = FakeTensorMode(shape_env=self.shape_env, allow_non_fake_inputs=True)
        self._ranges = {str(symbol): bounds for symbol, bounds in range_constraints.items()}
        self._known: set[Any] = set()

    def __call__(self, value: Any) -> Any:
        import torch

        if isinstance(value, _NodeRef):
            return self.nodes[value.name]
        if isinstance(value, _Operator):
            namespace, _, name = value.qualified.partition("::")
            return getattr(getattr(getattr(torch.ops, namespace), name), value.overload or "default")
        if isinstance(value, _Sym):
            return self._symint(value)
        if isinstance(value, _Fake):
            fake = self._fake(self(value.sizes), self(value.strides), value.dtype, value.device)
            return fake.requires_grad_(True) if value.requires_grad else fake
        if isinstance(value, _Size):
            return torch.Size(self(list(value.dims)))
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*(self(item) for item in value))
        if isinstance(value, (list, tuple)):
            return type(value)(self(item) for item in value)
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        return value

    def _fake(self, sizes: Any, strides: Any, dtype: Any, device: str) -> Any:
        """A fake tensor of this mode: a meta tensor wrapped directly (twice as fast as creating it
        through the mode's dispatch, which matters for thousands of nodes), else through the mode."""
        import torch
        from torch._subclasses.fake_tensor import FakeTensor

        try:
            meta = torch.empty_strided(sizes, strides, dtype=dtype, device="meta")
            return FakeTensor(self.fake_mode, meta, torch.device(device))
        except Exception:  # noqa: BLE001 - an internal constructor: fall back to the public way
            with self.fake_mode:
                return torch.empty_strided(sizes, strides, dtype=dtype, device=device)

    def _symint(self, value: _Sym) -> Any:
        expr = value.expr
        for symbol in expr.free_symbols:
            if symbol in self._known:
                continue
            self._known.add(symbol)
            bounds = self._ranges.get(str(symbol))
            if bounds is not None:
                self.shape_env.constrain_symbol_range(symbol, compiler_min=bounds.lower, compiler_max=bounds.upper)
        if value.hint is not None and expr.is_Symbol and expr not in self.shape_env.backed_var_to_val:
            self.shape_env.add_backed_var_to_val(expr, value.hint)
        return self.shape_env.create_symintnode(expr, hint=value.hint)
