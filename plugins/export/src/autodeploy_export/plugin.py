"""Entry point of autodeploy-plugin-export (group ``autodeploy.transforms``).

Registers ``export_to_gm``, the post-export cleanups (AutoDeploy's three, and
``cleanup_unused_inputs``) and ``gather_logits_before_lm_head``, and contributes them to the
``graph`` mode (the last one disabled). Importing this module must not
import torch: it is loaded whenever transforms are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

GRAPH_MODE = "graph"


def graph_mode_entries() -> dict[str, dict[str, Any]]:
    """This plugin's part of the ``graph`` preset: export, then the cleanups of the exported graph,
    and the opt-in last-position logits."""
    return {
        "export_to_gm": {
            "stage": "export",
            "run_per_gm": False,
            "requires_clean_graph": False,
            "strict": False,
            "clone_state_dict": False,
        },
        "cleanup_noop_slice": {"stage": "post_export"},
        "cleanup_noop_add": {"stage": "post_export"},
        "cleanup_input_constraints": {"stage": "post_export"},
        "cleanup_unused_inputs": {"stage": "post_export"},
        # changes the output to the last position's logits only: opt-in, see its docstring
        "gather_logits_before_lm_head": {"stage": "post_load_fusion", "run_per_gm": True, "enabled": False},
    }


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    from .cleanup_transforms import CleanupInputConstraints, CleanupNoopAdd, CleanupNoopSlice, CleanupUnusedInputs
    from .export_transform import ExportToGM
    from .gather_logits_transform import GatherLogitsBeforeLmHead

    register("export_to_gm", ExportToGM)
    register("cleanup_noop_slice", CleanupNoopSlice)
    register("cleanup_noop_add", CleanupNoopAdd)
    register("cleanup_input_constraints", CleanupInputConstraints)
    register("cleanup_unused_inputs", CleanupUnusedInputs)
    register("gather_logits_before_lm_head", GatherLogitsBeforeLmHead)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register(GRAPH_MODE, graph_mode_entries())
