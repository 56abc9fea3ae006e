"""``run --dump-graphs DIR``: each GraphModule's code after every transform, as ``NN_<key>.py``.

``NN`` is the transform's position in the run (01 for the first), so the files sort in run order
and a ``diff`` of two neighbours shows what one transform did. A module holding several
GraphModules gets one file each (``NN_<key>__<submodule>.py``); with one, the plain name. Transforms that leave no
GraphModule (the factory stage) or did not run (disabled) write nothing. Files are written
atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write_text
from ..markers import hookimpl
from ..records import TransformStatus

if TYPE_CHECKING:
    from torch import nn

    from ..records import TransformRecord
    from ..stages import Stages


class GraphDumper:
    """Observer writing the code of every GraphModule after each transform into `directory`."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.position = 0
        self.written: list[Path] = []

    @hookimpl
    def autodeploy_after_transform(self, key: str, stage: Stages, record: TransformRecord, mod: nn.Module) -> None:
        self.position += 1
        if record.status is TransformStatus.DISABLED:
            return
        self.written.extend(dump_graph_code(mod, self.directory, self.position, key))


def dump_graph_code(mod: nn.Module, directory: Path, position: int, key: str) -> list[Path]:
    """Write the code of each GraphModule in `mod` as ``{position:02d}_{key}[__{name}].py``."""
    from ..transform.graph import named_graphmodules

    graphs = list(named_graphmodules(mod))
    written = []
    for name, gm in graphs:
        suffix = f"__{name.replace('.', '_') or 'root'}" if len(graphs) > 1 else ""
        header = f"# after transform {position}: {key}; graph module {name or '<root>'}\n"
        written.append(atomic_write_text(directory / f"{position:02d}_{key}{suffix}.py", header + gm.code.lstrip("\n")))
    return written
