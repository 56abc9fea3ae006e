"""The names the generated code already uses, which a new plugin's classes must not take.

A plugin named ``transform_info`` would get a class ``TransformInfo`` that shadows the
``TransformInfo`` its own module imports, and its tests would fail. The names are read from the
templates themselves (rendered for a probe name, then parsed), so a template that starts
importing something new protects it without anyone keeping a list.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from .templates import FILES

_PROBE = "zzprobe"
_PROBE_VALUES = {
    "key": _PROBE,
    "distribution": f"autodeploy-plugin-{_PROBE}",
    "package": f"autodeploy_{_PROBE}",
    "class_name": _PROBE.capitalize(),
    "config_class_name": f"{_PROBE.capitalize()}Config",
    "core_requirement": "autodeploy-core",
}


@lru_cache(maxsize=1)
def template_names() -> frozenset[str]:
    """Every identifier the generated Python files bind or refer to (imports, globals, locals,
    builtins they call), apart from the ones made from the plugin's own name."""
    names: set[str] = set()
    for path, template in FILES.items():
        if not path.endswith(".py"):
            continue
        tree = ast.parse(template.substitute(_PROBE_VALUES))
        for node in ast.walk(tree):
            names.update(_identifiers(node))
    return frozenset(name for name in names if _PROBE not in name.lower())


def _identifiers(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.alias):
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    return []
