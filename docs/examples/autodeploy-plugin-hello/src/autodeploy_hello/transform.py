"""The hello transform: records a greeting and the model's size on the module.

A starting point for a transform of your own: keep the shape (a config class, a transform class
whose `get_config_class` returns it, and `_apply_to_full_model` or `_apply`) and replace the body.
This module must not import torch at module level: listing transforms imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from pydantic import Field

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import nn

    from autodeploy import CachedSequenceInterface, ModelFactory

META_KEY = "hello"


class HelloConfig(TransformConfig):
    """Configuration for the hello transform."""

    greeting: str = Field(default="hello", description="The text the transform records on the module.")


class Hello(BaseTransform):
    """Record a greeting and the number of parameters on the module, in ``mod.meta["hello"]``.

    It works on the whole module (``run_per_gm: false``), so it runs the same before and after
    export; a transform that rewrites graphs implements ``_apply`` instead, called once per
    ``GraphModule`` (``run_per_gm: true``).
    """

    config: HelloConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        """The config class: the fields a pipeline config may set for this transform."""
        return HelloConfig

    def _apply_to_full_model(
        self,
        mod: nn.Module,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[nn.Module, TransformInfo]:
        num_parameters = sum(parameter.numel() for parameter in mod.parameters())
        if not isinstance(getattr(mod, "meta", None), dict):
            mod.meta = {}
        mod.meta[META_KEY] = {"greeting": self.config.greeting, "num_parameters": num_parameters}
        # one match; no graph was changed, so a graph stays clean and its shapes stay valid
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)
