"""Entry point of autodeploy-plugin-export (group ``autodeploy.transforms``).

Registers ``export_to_gm`` and the post-export cleanups, and contributes them to the ``graph``
mode. Importing this module must not import torch: it is loaded whenever transforms are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

GRAPH_MODE = "graph"


def graph_mode_entries() -> dict[str, dict[str, Any]]:
    """This plugin's part of the ``graph`` preset: export, then the cleanups of the exported graph."""
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
        "cleanup_unused_inputs": {"stage": "post_export"},
    }


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    from .cleanup_transforms import CleanupNoopAdd, CleanupNoopSlice, CleanupUnusedInputs
    from .export_transform import ExportToGM

    register("export_to_gm", ExportToGM)
    register("cleanup_noop_slice", CleanupNoopSlice)
    register("cleanup_noop_add", CleanupNoopAdd)
    register("cleanup_unused_inputs", CleanupUnusedInputs)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register(GRAPH_MODE, graph_mode_entries())
