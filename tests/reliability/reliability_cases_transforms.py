"""Catalogue: transforms (and pipeline observers) that fail while a pipeline runs.

The failing transforms come from a real installed distribution (tests/reliability/dists/failing).
Each case runs a pipeline through `InferenceOptimizer`: the run report must say which transform
failed, in which stage and why; lifecycle hooks must see the error; with ``skip_on_error`` the
pipeline goes on and the report marks the skip. One case runs ``autodeploy run`` end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from reliability_bad_input import BadInput


@dataclass(frozen=True, kw_only=True)
class TransformCase(BadInput):
    key: str  # the failing transform
    stage: str
    entry: dict[str, Any] = field(default_factory=dict)  # its config entry, besides the stage
    skip_on_error: bool = False
    why: str  # what the error and the report say, after "transform 'key' (stage s) failed: "
    graph: bool = False  # run on a module holding a torch.fx GraphModule
    # an environment variable that makes the observer plugin raise in this hook (an observer case)
    observer_raises_in: Optional[str] = None


FAILING = "autodeploy-testplugin-reliability-failing"

CASES: tuple[TransformCase, ...] = (
    TransformCase(
        id="raises",
        what="a transform that raises",
        key="always_fails",
        stage="post_export",
        entry={"run_per_gm": False, "message": "exploded in post_export"},
        why="RuntimeError: exploded in post_export",
    ),
    TransformCase(
        id="raises-skip-on-error",
        what="a transform that raises, with skip_on_error",
        key="always_fails",
        stage="post_export",
        entry={"run_per_gm": False, "message": "exploded, skipped"},
        skip_on_error=True,
        why="RuntimeError: exploded, skipped",
    ),
    TransformCase(
        id="raises-per-graph",
        what="a per-graph transform that raises on a GraphModule",
        key="always_fails",
        stage="pattern_matcher",
        entry={"run_per_gm": True, "message": "bad graph"},
        graph=True,
        why="RuntimeError: bad graph (in graph Sequential)",  # fx names a traced class after its root
    ),
    TransformCase(
        id="constructor-raises",
        what="a transform whose constructor raises",
        key="fails_to_construct",
        stage="export",
        why="could not be created: ValueError: this transform refuses to be created",
    ),
    TransformCase(
        id="constructor-raises-skip-on-error",
        what="a transform whose constructor raises, with skip_on_error",
        key="fails_to_construct",
        stage="export",
        skip_on_error=True,
        why="could not be created: ValueError: this transform refuses to be created",
    ),
    TransformCase(
        id="returns-nothing",
        what="a transform that returns None instead of (module, info)",
        key="returns_nothing",
        stage="post_export",
        entry={"run_per_gm": False},
        why="TypeError: _apply_to_full_model must return (module, TransformInfo), returned None",
    ),
    TransformCase(
        id="returns-no-module",
        what="a transform that returns (None, info)",
        key="returns_no_module",
        stage="post_export",
        entry={"run_per_gm": False},
        why="TypeError: _apply_to_full_model must return (module, TransformInfo), returned no module (None)",
    ),
    TransformCase(
        id="debug-dump-folder-is-a-file",
        what="debug_visualize_dir naming a file, so the graph dump cannot be written",
        key="mark_ran",
        stage="post_load_fusion",
        entry={"run_per_gm": False, "debug_visualize_dir": "{file}"},
        graph=True,
        why="cannot write its graph dump to debug_visualize_dir",
    ),
    TransformCase(
        id="observer-hook-raises",
        what="a pipeline observer plugin whose before-stage hook raises",
        key="mark_ran",
        stage="post_export",
        entry={"run_per_gm": False},
        observer_raises_in="before_stage",
        why="the autodeploy_before_stage hook of plugin 'reliability_observer' "
        "(autodeploy-testplugin-reliability-failing 0.8.0) raised RuntimeError",
    ),
    TransformCase(
        id="cli-run-report",
        what="`autodeploy run` of a pipeline whose first transform raises, with --report-json",
        key="always_fails",
        stage="factory",
        why="RuntimeError: failing on purpose",
    ),
)
