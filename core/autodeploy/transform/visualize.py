"""Debug dumps of GraphModules, written when a transform's ``debug_visualize_dir`` is set.

One readable dump per GraphModule: the graph's Python code and its node table; an SVG too when
graphviz (pydot + dot) is installed. Files are named by position and key and written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    from torch import nn


def dump_graphmodules(mod: nn.Module, directory: str, position: int, key: str) -> list[Path]:
    """Write one dump per GraphModule in `mod`; returns the paths written."""
    from .graph import named_graphmodules

    written: list[Path] = []
    for index, (name, gm) in enumerate(named_graphmodules(mod)):
        stem = f"{position:03d}_{key}" + (f"_{index}_{name.replace('.', '_')}" if name else "")
        text = f"# transform {key}, graph module {name or '<root>'}\n{gm.code}\n\n# nodes\n{_node_table(gm)}\n"
        written.append(atomic_write_text(Path(directory) / f"{stem}.py.txt", text))
        svg = _render_svg(gm)
        if svg is not None:
            written.append(atomic_write_bytes(Path(directory) / f"{stem}.svg", svg))
    return written


def _node_table(gm) -> str:
    rows = []
    for node in gm.graph.nodes:
        val = node.meta.get("val")
        shape = tuple(val.shape) if hasattr(val, "shape") else ""
        rows.append(f"{node.op:14} {node.name:30} {str(node.target):40} {shape}")
    return "\n".join(rows)


def _render_svg(gm) -> bytes | None:
    try:
        from torch.fx.passes.graph_drawer import FxGraphDrawer

        return FxGraphDrawer(gm, "graph").get_dot_graph().create_svg()
    except Exception:  # graphviz or pydot missing, or dot failed: the text dump is enough
        return None
