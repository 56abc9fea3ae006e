"""The options of ``autodeploy run`` beyond its main flow: per-transform debugging and caching.

- ``--bisect``: compare the logits with the eager model's after every transform and name the
  first transform after which they differ beyond the ``--check`` tolerance (implies ``--check``).
- ``--dump-graphs DIR``: write each GraphModule's code after every transform (``NN_<key>.py``).
- ``--no-cache``: do not read or write the autodeploy cache for pipeline results (the export
  cache of ``export_to_gm``); by default transforms that cache use the cache folder.

They work through pipeline observers (`autodeploy.debug`) registered on the host, and the run's
shared config (``cache_dir``), so the run itself stays as it is.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .model_source import default_cache_dir
from .output import write_text

if TYPE_CHECKING:
    import torch

    from ..debug import GraphDumper, LogitsBisector
    from ..factory import ModelFactory
    from ..optimizer import InferenceOptimizer, PipelineConfig
    from ..plugin import PluginHost

CACHE_DIR_SETTING = "cache_dir"
"""The shared-config setting naming the cache folder transforms may cache results in (None: off)."""


def add_debug_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bisect",
        action="store_true",
        help="compare the logits with the eager model's after every transform and name the first one "
        "after which they differ beyond the --check tolerance (implies --check; slow: runs the module each time)",
    )
    parser.add_argument(
        "--dump-graphs",
        metavar="DIR",
        help="write each GraphModule's code after every transform to DIR as NN_<key>.py",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write cached pipeline results (the export cache) in the cache folder",
    )


@dataclass
class RunObservers:
    """What the debugging options attached to a run; says what they found once it is over."""

    bisector: Optional[LogitsBisector] = None
    dumper: Optional[GraphDumper] = None
    notes: list[str] = field(default_factory=list)

    def report(self) -> None:
        """Print the bisect table and verdict, and where the graph dumps went."""
        if self.bisector is not None:
            write_text(self.bisector.format_table())
            write_text(self.bisector.verdict())
        if self.dumper is not None:
            write_text(f"graph dumps: {len(self.dumper.written)} file(s) in {self.dumper.directory}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "bisect": self.bisector.to_dict() if self.bisector is not None else None,
            "graph_dumps": [str(path) for path in self.dumper.written] if self.dumper is not None else None,
        }


def attach_debug_options(
    args: argparse.Namespace,
    host: PluginHost,
    optimizer: InferenceOptimizer,
    factory: ModelFactory,
    config: PipelineConfig,
    input_ids: torch.Tensor,
) -> RunObservers:
    """Set the run's cache folder, and register the observers the options ask for on `host`."""
    setattr(optimizer.shared_config, CACHE_DIR_SETTING, None if args.no_cache else str(default_cache_dir()))
    observers = RunObservers()
    if args.dump_graphs:
        from ..debug import GraphDumper

        observers.dumper = GraphDumper(Path(args.dump_graphs))
        host.register(observers.dumper, name="autodeploy-run-dump-graphs")
    if args.bisect:
        args.check = True
        observers.bisector = _bisector(args, optimizer, factory, config, input_ids)
        host.register(observers.bisector, name="autodeploy-run-bisect")
    return observers


def _bisector(
    args: argparse.Namespace,
    optimizer: InferenceOptimizer,
    factory: ModelFactory,
    config: PipelineConfig,
    input_ids: torch.Tensor,
) -> LogitsBisector:
    from ..debug import LogitsBisector
    from ..debug.bisect import eager_reference_logits
    from ..optimizer import build_sequence_interface
    from ..stages import Stages
    from .logits_check import default_tolerance

    reference = eager_reference_logits(factory, input_ids, config.device)
    tolerance = args.check_tol if args.check_tol is not None else default_tolerance(reference.dtype)
    return LogitsBisector(
        input_ids,
        reference,
        tolerance,
        weight_load_entries=[entry for entry in optimizer.entries if entry.stage is Stages.WEIGHT_LOAD],
        cm=build_sequence_interface(config),
        factory=factory,
        shared_config=optimizer.shared_config,
    )
