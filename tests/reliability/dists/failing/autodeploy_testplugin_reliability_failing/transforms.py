"""Transforms that break the transform contract in different ways (torch-free to import)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from autodeploy import BaseTransform, TransformConfig, TransformInfo


class AlwaysFailsConfig(TransformConfig):
    """Config of `always_fails`: the message of the error it raises."""

    message: str = Field(default="failing on purpose", description="The text of the RuntimeError raised.")


class AlwaysFails(BaseTransform):
    """Raises `RuntimeError(message)` whenever it runs on the whole model."""

    config: AlwaysFailsConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return AlwaysFailsConfig

    def _apply_to_full_model(self, mod: Any, cm: Any, factory: Any, shared_config: Any) -> Any:
        raise RuntimeError(self.config.message)

    def _apply(self, gm: Any, cm: Any, factory: Any, shared_config: Any) -> Any:
        raise RuntimeError(f"{self.config.message} (in graph {type(gm).__name__})")


class FailsToConstruct(BaseTransform):
    """Its constructor raises: the transform cannot even be created."""

    def __init__(self, config: TransformConfig):
        raise ValueError("this transform refuses to be created")


class ReturnsNothing(BaseTransform):
    """Forgets to return ``(module, TransformInfo)``."""

    def _apply_to_full_model(self, mod: Any, cm: Any, factory: Any, shared_config: Any) -> Any:
        return None


class ReturnsNoModule(BaseTransform):
    """Returns an info but no module."""

    def _apply_to_full_model(self, mod: Any, cm: Any, factory: Any, shared_config: Any) -> Any:
        return None, TransformInfo(skipped=False, num_matches=1)


class MarkRan(BaseTransform):
    """Marks the module (``reliability_<key> = True``), so a test sees which transforms ran."""

    def _apply_to_full_model(self, mod: Any, cm: Any, factory: Any, shared_config: Any) -> Any:
        setattr(mod, f"reliability_{self.get_transform_key()}", True)
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)


class MarkDone(MarkRan):
    """The same, under a second key (a class carries one key): the last transform of a pipeline."""
