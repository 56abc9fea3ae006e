"""The first-party plugins (their code and their tests) use the core only through its public API:
`autodeploy` (its ``__all__``), `autodeploy.graph` (the torch side), `autodeploy.ops` (the canonical
ops, registered on import), `autodeploy.runtime` (the serving engine), `autodeploy.distributed`
(ranks, weight slices, collectives) and `autodeploy.testing`.

A plugin that reaches into a core module breaks when the core reorganises; this test names every
such import, file and line, so the name is made public (or the plugin changed) before it lands.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = (
    "autodeploy",
    "autodeploy.graph",
    "autodeploy.ops",
    "autodeploy.runtime",
    "autodeploy.distributed",
    "autodeploy.testing",
    "autodeploy.weight_conversions",
)


def _public_names(module: str) -> set[str] | None:
    """The module's ``__all__``; None while a public module is not on main yet (its names unchecked)."""
    try:
        return set(importlib.import_module(module).__all__)
    except ModuleNotFoundError:
        return None


def core_imports_outside_the_api(path: Path) -> list[str]:
    """``file:line: what`` for each import of a core name that is not public."""
    public = {module: _public_names(module) for module in PUBLIC_MODULES}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module != "autodeploy" and not node.module.startswith("autodeploy."):
                continue
            if node.module not in public:
                found.append(f"{where}: from {node.module} import ... (not a public module)")
                continue
            names = public[node.module]
            hidden = [alias.name for alias in node.names if names is not None and alias.name not in names]
            if hidden:
                found.append(f"{where}: from {node.module} import {', '.join(hidden)} (not in its __all__)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("autodeploy.") and alias.name not in PUBLIC_MODULES:
                    found.append(f"{where}: import {alias.name} (not a public module)")
    return found


def test_plugins_import_only_public_core_names():
    files = sorted(ROOT.glob("plugins/*/src/**/*.py")) + sorted(ROOT.glob("plugins/*/tests/**/*.py"))
    assert len(files) > 50
    problems = [line for path in files for line in core_imports_outside_the_api(path)]
    assert not problems, "plugins import core names outside the public API:\n" + "\n".join(problems)


def test_the_check_sees_a_private_import(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "from autodeploy.optimizer.container import FACTORY_MODEL_ATTR\n"
        "from autodeploy import BaseTransform, _version\n"
        "from autodeploy.graph import get_pipeline_model\n"
    )
    problems = core_imports_outside_the_api(plugin)
    assert [line.split(": ", 1)[1] for line in problems] == [
        "from autodeploy.optimizer.container import ... (not a public module)",
        "from autodeploy import _version (not in its __all__)",
    ]


def test_the_graph_api_is_torch_free_to_import():
    """`autodeploy.graph` can be imported where torch is not loaded yet (it imports torch on use)."""
    import subprocess
    import sys

    code = "import sys, autodeploy.graph; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
