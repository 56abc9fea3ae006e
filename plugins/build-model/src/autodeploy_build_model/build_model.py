"""The ``build_model`` transform of the factory stage, and its config (AutoDeploy's, field for field).

The pipeline starts from an empty container module; this transform asks the model factory for the
model (``factory.build_model(config.device)``, the meta device by default, so a 70B model costs no
memory) and registers it as the container's ``factory_model`` submodule, where every later stage
finds it. Weights come later (the ``load_weights`` transform streams them in after export).

The class and config names, bases, docstrings, field and JSON schema match AutoDeploy's reference
documentation; a test holds them to it. Importing this module imports neither torch nor
transformers: the transform only talks to the factory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from pydantic import Field, field_validator

from autodeploy import BaseTransform, ConfigError, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import nn

    from autodeploy import CachedSequenceInterface, ModelFactory

# A torch device string: a backend name, optionally with an index ("meta", "cpu", "cuda:1").
_DEVICE_PATTERN = re.compile(r"[a-z][a-z0-9_]*(:[0-9]+)?")


class BuildModelConfig(TransformConfig):
    """Configuration for the build model transform."""

    device: str = Field(default="meta", description="The device to build the model on.")

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        # torch would only complain once the factory runs; a typo should fail when the config loads
        if not _DEVICE_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not a torch device string; use e.g. 'meta', 'cpu', 'cuda' or 'cuda:0'")
        return value


class BuildModel(BaseTransform):
    """A simple wrapper transform to build a model via the model factory build_model method.

    This transform will build the model via the build_model method of the model factory on the meta
    device (or the set device) and not load the weights.
    """

    transform_key = "build_model"  # the key it is registered under, for use outside a pipeline

    config: BuildModelConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        """Get the configuration class for the transform.

        This is used to validate the configuration of the transform.
        """
        return BuildModelConfig

    def _apply_to_full_model(
        self,
        mod: nn.Module,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[nn.Module, TransformInfo]:
        model = require_factory(factory, self.key).build_model(self.config.device)
        return attach_factory_model(mod, model)


def require_factory(factory: Optional[ModelFactory], key: str) -> ModelFactory:
    """The factory, or a clear error: factory-stage transforms have nothing to build from without one."""
    if factory is None:
        raise ConfigError(
            f"{key} builds the model through a model factory, but the pipeline has none; "
            "give one (e.g. model_factory: AutoModelForCausalLM with model: <checkpoint folder>)"
        )
    return factory


def attach_factory_model(mod: nn.Module, model: nn.Module) -> tuple[nn.Module, TransformInfo]:
    """Register `model` as the container's ``factory_model``; the result is one clean match.

    A freshly built model has no graph to clean and its shapes come from its config, so the
    record says clean with valid shapes (as AutoDeploy's does), and no cleanup runs after it.
    """
    from autodeploy.graph import set_pipeline_model

    mod = set_pipeline_model(mod, model)
    return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)
