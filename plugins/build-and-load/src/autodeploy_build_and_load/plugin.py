"""Hook implementations of the build-and-load plugin (``autodeploy.transforms: build_and_load_factory_model``).

Registers the transform and its entry in the ``transformers`` mode, which keeps the Hugging Face
module as ``from_pretrained`` makes it (loading changes memory, hence ``expect_mem_change``).
Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

# The `transformers` mode's first step, as AutoDeploy configures it.
TRANSFORMERS_MODE_ENTRY: Mapping[str, Any] = {
    "stage": "factory",
    "run_per_gm": False,
    "requires_clean_graph": False,
    "expect_mem_change": True,
}


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    from .build_and_load import BuildAndLoadFactoryModel

    register("build_and_load_factory_model", BuildAndLoadFactoryModel)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("transformers", {"build_and_load_factory_model": dict(TRANSFORMERS_MODE_ENTRY)})
