"""`PipelineModule`: the module a pipeline starts from when the caller gives none.

The factory stage puts the model at ``mod.factory_model`` (export later replaces it with the
exported GraphModule); the container forwards calls to it, so the pipeline's result is called
like the model itself. The class needs torch, but importing the optimizer must not, so it is
created on first use (once per process) and reachable as ``container.PipelineModule`` through
the module's ``__getattr__`` (which also lets pickle find it).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ..errors import AutodeployError

if TYPE_CHECKING:
    from torch import nn

FACTORY_MODEL_ATTR = "factory_model"


@cache
def pipeline_module_class() -> type[nn.Module]:
    """The `PipelineModule` class, created (and torch imported) on the first call only."""
    from torch import nn

    class PipelineModule(nn.Module):
        """The default starting module: holds the factory's model and forwards calls to it."""

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            model = self._modules.get(FACTORY_MODEL_ATTR)
            if model is None:
                raise AutodeployError(
                    "this PipelineModule holds no model: no factory-stage transform (such as build_model "
                    f"or build_and_load_factory_model) set `{FACTORY_MODEL_ATTR}`; add one to the pipeline"
                )
            return model(*args, **kwargs)

    PipelineModule.__module__ = __name__
    PipelineModule.__qualname__ = "PipelineModule"
    return PipelineModule


def new_pipeline_module() -> nn.Module:
    """A fresh, empty `PipelineModule`."""
    return pipeline_module_class()()


def get_pipeline_model(mod: nn.Module) -> nn.Module:
    """The model inside the pipeline module (its ``factory_model``), else `mod` itself (a model
    handed straight to the optimizer). Every transform that works on "the model" starts here."""
    inner = mod._modules.get(FACTORY_MODEL_ATTR)
    return inner if inner is not None else mod


def set_pipeline_model(mod: nn.Module, model: nn.Module) -> nn.Module:
    """Put `model` where `get_pipeline_model(mod)` finds the model; returns the module the pipeline
    goes on with.

    A pipeline module (one with a ``factory_model``, a `PipelineModule`, or an empty module) keeps
    `model` as its ``factory_model`` and is returned; when `mod` was the model itself, `model`
    replaces it and is returned.
    """
    if _is_container(mod):
        mod.add_module(FACTORY_MODEL_ATTR, model)
        return mod
    return model


def _is_container(mod: nn.Module) -> bool:
    if FACTORY_MODEL_ATTR in mod._modules or isinstance(mod, pipeline_module_class()):
        return True
    # an empty module (a bare nn.Module()) holds nothing: it is a container to fill, not a model
    return not mod._modules and not mod._parameters and not mod._buffers


def __getattr__(name: str) -> Any:
    if name == "PipelineModule":
        return pipeline_module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
