"""Hook implementations of the build-model plugin (entry point ``autodeploy.transforms: build_model``).

Registers the ``build_model`` transform and its entry in the ``graph`` mode, which starts from a
weightless model on the meta device (weights are streamed in after export). Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

# The `graph` mode's first step, as AutoDeploy configures it.
GRAPH_MODE_ENTRY: Mapping[str, Any] = {
    "stage": "factory",
    "run_per_gm": False,
    "device": "meta",
    "requires_clean_graph": False,
}


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    from .build_model import BuildModel

    register("build_model", BuildModel)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("graph", {"build_model": dict(GRAPH_MODE_ENTRY)})
