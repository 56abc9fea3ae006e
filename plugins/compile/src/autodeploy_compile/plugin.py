"""Entry point of the plugin: registers ``compile_model`` and its place in the presets.

The presets use ``torch-simple``: ``torch.compile`` costs 15-30 s per process on a small CPU
machine, which a default run should not pay; choose ``backend: torch-compile`` to compile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

from .transform import CompileModel

COMPILE_ENTRY: dict[str, Any] = {
    "stage": "compile",
    "run_per_gm": False,
    "expect_mem_change": True,
    "cuda_graph_batch_sizes": None,
    "backend": "torch-simple",
}


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    register("compile_model", CompileModel)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("graph", {"compile_model": dict(COMPILE_ENTRY)})
    register("transformers", {"compile_model": dict(COMPILE_ENTRY)})
