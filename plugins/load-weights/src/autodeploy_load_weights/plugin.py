"""Entry point of the plugin: registers the two transforms and their place in the presets.

Torch-free: the transform classes are defined without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

from .transforms import LoadWeightsToDevice, MoveInputsToDevice

# AutoDeploy's preset entries for the weight_load stage (load first, then move the inputs).
WEIGHT_LOAD_ENTRIES: dict[str, dict[str, Any]] = {
    "load_weights": {
        "stage": "weight_load",
        "run_per_gm": False,
        "expect_mem_change": True,
        "checkpoint_device": None,
    },
    "move_inputs_to_device": {
        "stage": "weight_load",
        "run_per_gm": True,
    },
}


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    register("load_weights", LoadWeightsToDevice)
    register("move_inputs_to_device", MoveInputsToDevice)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    # `transformers` loads with from_pretrained in the factory stage; only `graph` streams here.
    register("graph", WEIGHT_LOAD_ENTRIES)
