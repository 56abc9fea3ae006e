"""Config schema of ``compile_model``: AutoDeploy's ``backend`` and ``cuda_graph_batch_sizes``,
plus the options of ``torch.compile``. Torch-free.

``backend`` is a closed set: a typo fails validation with the list of valid backends.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, field_validator

from autodeploy import TransformConfig

CompileBackend = Literal["torch-simple", "torch-compile", "torch-cudagraph", "torch-opt"]

CPU_STAND_INS = {"torch-cudagraph": "torch-simple", "torch-opt": "torch-compile"}
"""AutoDeploy's CUDA-graph backends, and what runs instead on a device without CUDA graphs."""
TorchCompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]

# torch.compile arguments that have their own field: given in compile_kwargs they would be ambiguous
_OWN_FIELDS = {"mode": "compile_mode", "dynamic": "dynamic", "fullgraph": "fullgraph"}


class CompileModelConfig(TransformConfig):
    """Configuration for the compile model transform."""

    cuda_graph_batch_sizes: Optional[list[int]] = Field(
        default=None,
        description="The batch sizes to use for CUDA graphs, largest first (as AutoDeploy sorts them). Only "
        "meaningful on CUDA: torch-cudagraph and torch-opt capture a decode-step graph for each; torch-compile "
        "warms up at each. Ignored on CPU and by torch-simple.",
    )
    backend: CompileBackend = Field(
        description="The backend to use for compiling the model: 'torch-simple' (no compilation, the "
        "module runs as it is), 'torch-compile' (torch.compile), 'torch-cudagraph' (CUDA graphs captured per "
        "batch size; torch-simple on CPU) or 'torch-opt' (torch.compile, then CUDA graphs; torch-compile on CPU).",
    )
    compile_mode: Optional[TorchCompileMode] = Field(
        default=None,
        description="torch.compile's `mode` (torch-compile only); None uses torch's default.",
    )
    dynamic: Optional[bool] = Field(
        default=None,
        description="torch.compile's `dynamic` (torch-compile only): True compiles for dynamic batch and "
        "sequence sizes at once, False specialises, None lets torch decide after a size changes.",
    )
    fullgraph: bool = Field(
        default=False,
        description="torch.compile's `fullgraph` (torch-compile only): fail instead of falling back to "
        "Python at a graph break.",
    )
    warmup: bool = Field(
        default=True,
        description="Run the compiled module once on the sequence interface's example inputs inside the "
        "transform (torch-compile only), so that compilation time and errors show up in this "
        "transform rather than at the first request.",
    )
    compile_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Further keyword arguments for torch.compile (e.g. `backend: inductor`, `options: {...}`).",
    )

    @field_validator("cuda_graph_batch_sizes")
    @classmethod
    def _positive_batch_sizes(cls, sizes: Optional[list[int]]) -> Optional[list[int]]:
        if sizes is not None and any(size < 1 for size in sizes):
            raise ValueError(f"batch sizes must be >= 1, got {sizes}")
        return sorted(set(sizes), reverse=True) if sizes is not None else None

    @field_validator("compile_kwargs")
    @classmethod
    def _no_ambiguous_kwargs(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        clashing = sorted(set(kwargs) & set(_OWN_FIELDS))
        if clashing:
            fields = ", ".join(f"{key!r} -> set `{_OWN_FIELDS[key]}`" for key in clashing)
            raise ValueError(f"these torch.compile arguments have their own field: {fields}")
        return kwargs
