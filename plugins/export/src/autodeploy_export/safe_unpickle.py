"""Unpickling an export cache entry without letting it run code: only the globals a program needs.

Why: the export cache lives in a folder that may be shared (``AUTODEPLOY_CACHE_DIR`` on a team
volume, a cache kept world-readable on purpose). A plain ``pickle.loads`` of an entry someone else
wrote runs whatever that entry names: ``os.system``, ``builtins.eval``, any importable module's
top level. This unpickler resolves a global only when it is one of the few things an exported
program's pickle is made of, and refuses every other name before importing anything:

- the storage classes of `program_store` (symbolic ints, fake tensors, node references, operators);
- torch's dtypes, memory formats, layouts, ``torch.device`` / ``torch.Size``, the export program's
  own classes (``ExportedProgram``, its signature and call graph, pytree specs, ``ValueRanges``,
  ``TensorMetadata``, the verifier), and the meta-tensor rebuild functions;
- sympy expression classes (``Symbol``, ``Integer``, ``Mul``, torch's ``Min``...): data only;
- plain containers and the pure arithmetic/comparison functions that graph nodes call
  (``operator.getitem``, ``math.ceil``, ``torch.sym_max``...).

`store` checks each new entry with this same unpickler, so a program that needs anything else is
simply not cached (never written and then refused on every later run).
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

_STORAGE_MODULE = "autodeploy_export.program_store"

_CONTAINERS = {
    "builtins": frozenset(
        {
            "dict",
            "list",
            "tuple",
            "set",
            "frozenset",
            "slice",
            "int",
            "float",
            "bool",
            "complex",
            "str",
            "bytes",
            "range",
        }
    ),
    "collections": frozenset({"OrderedDict", "defaultdict"}),
}
# pure functions a graph node may call (targets of call_function nodes that are not torch ops)
_PURE_FUNCTIONS = {
    "_operator": frozenset(
        {
            "getitem",
            "add",
            "sub",
            "mul",
            "truediv",
            "floordiv",
            "mod",
            "pow",
            "neg",
            "pos",
            "abs",
            "eq",
            "ne",
            "lt",
            "le",
            "gt",
            "ge",
            "and_",
            "or_",
            "xor",
            "not_",
            "invert",
            "lshift",
            "rshift",
            "matmul",
            "truth",
        }
    ),
    "math": frozenset({"ceil", "floor", "sqrt", "trunc", "log", "log2", "exp", "pow", "gcd"}),
    "torch": frozenset(
        {
            "sym_max",
            "sym_min",
            "sym_int",
            "sym_float",
            "sym_not",
            "sym_ite",
            "sym_sum",
            "_sym_sqrt",
            "_assert",
            "_assert_async",
            "_assert_scalar",
            "device",
            "Size",
        }
    ),
}
_PURE_FUNCTIONS["operator"] = _PURE_FUNCTIONS["_operator"]
_TORCH_CLASSES = {
    "torch._utils": frozenset({"_rebuild_parameter", "_rebuild_meta_tensor_no_storage"}),
    "torch.serialization": frozenset({"_get_layout"}),
    "torch.export.exported_program": frozenset({"ExportedProgram", "ModuleCallEntry", "ModuleCallSignature"}),
    "torch.fx.immutable_collections": frozenset({"immutable_list", "immutable_dict"}),
    "torch.fx.passes.shape_prop": frozenset({"TensorMetadata"}),
    "torch.utils._pytree": frozenset({"TreeSpec", "LeafSpec"}),
    "torch.utils._sympy.value_ranges": frozenset({"ValueRanges"}),
}
# every class of these modules is plain data (dataclasses and enums of the export signature)
_DATA_CLASS_MODULES = ("torch.export.graph_signature", "torch._export.verifier")
_SYMPY_MODULES = ("sympy.", "torch.utils._sympy.")


class RefusedGlobal(pickle.UnpicklingError):
    """The data names something an export cache entry never holds: it is not used."""


def loads(data: bytes) -> Any:
    """`pickle.loads` for export cache entries: refuses (`RefusedGlobal`) any other global."""
    return _ProgramUnpickler(io.BytesIO(data)).load()


class _ProgramUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if not _module_may_hold_allowed(module):
            # refused before importing: importing a module runs its code
            raise RefusedGlobal(f"refers to {module}.{name}, which an export cache entry never holds")
        value = _resolve(module, name)
        if not _allowed(module, name, value):
            raise RefusedGlobal(f"refers to {module}.{name}, which an export cache entry never holds")
        return value


def _module_may_hold_allowed(module: str) -> bool:
    return (
        module == _STORAGE_MODULE
        or module in _CONTAINERS
        or module in _PURE_FUNCTIONS
        or module in _TORCH_CLASSES
        or module in _DATA_CLASS_MODULES
        or any(module.startswith(prefix) for prefix in _SYMPY_MODULES)
    )


def _resolve(module: str, name: str) -> Any:
    value: Any = importlib.import_module(module)
    for part in name.split("."):
        if part.startswith("__"):
            raise RefusedGlobal(f"refers to {module}.{name}: dunder attributes are never held")
        value = getattr(value, part)
    return value


def _allowed(module: str, name: str, value: Any) -> bool:
    import torch

    if isinstance(value, (torch.dtype, torch.memory_format, torch.layout)):
        return True
    if module == _STORAGE_MODULE:
        return isinstance(value, type) and value.__module__ == _STORAGE_MODULE
    for table in (_CONTAINERS, _PURE_FUNCTIONS, _TORCH_CLASSES):
        if name in table.get(module, ()):
            return True
    if module in _DATA_CLASS_MODULES:
        return isinstance(value, type) and value.__module__ == module
    if any(module.startswith(prefix) for prefix in _SYMPY_MODULES):
        import sympy

        return isinstance(value, type) and issubclass(value, sympy.Basic)
    return False
