"""The `hello` transform: tags the whole module with a greeting (torch-free to import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import nn


class HelloConfig(TransformConfig):
    """Config of `hello`: what to write on the module."""

    greeting: str = Field(default="hi", description="The text stored as `mod.greeting`.")


class Hello(BaseTransform):
    """Stores the configured greeting on the module, so a test can see the transform ran."""

    config: HelloConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return HelloConfig

    def _apply_to_full_model(
        self, mod: nn.Module, cm: Any, factory: Any, shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        mod.greeting = self.config.greeting
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)
