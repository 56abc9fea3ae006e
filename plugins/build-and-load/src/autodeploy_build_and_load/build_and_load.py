"""The ``build_and_load_factory_model`` transform of the factory stage (AutoDeploy's, same config).

Where ``build_model`` makes a weightless model for the graph pipeline, this transform asks the
factory for a ready model in one call (``factory.build_and_load_model(device)``; the Hugging Face
factory uses ``from_pretrained``) and registers it as the container's ``factory_model``.

The device: loading needs real memory, so the meta default of `BuildModelConfig.device` cannot
apply. The transform loads onto ``cm.device`` (the device the pipeline targets), unless the
config names a real device (``device: cuda:1``), which then wins: an explicit setting beats the
pipeline-wide one. Without a sequence interface it falls back to ``cpu``.

Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from autodeploy_build_model.build_model import BuildModel, attach_factory_model, require_factory

from autodeploy import ConfigError, ModelFactory, SharedConfig, TransformInfo

if TYPE_CHECKING:
    from torch import nn

    from autodeploy import CachedSequenceInterface

# The device used when neither the config nor the sequence interface names one.
FALLBACK_DEVICE = "cpu"


class BuildAndLoadFactoryModel(BuildModel):
    """A simple wrapper transform to build AND load a model via the factory’s build_and_load API.

    Under the hood, the factory can use a different way to build and load the model at the same time
    rather than just building the model. For example, the HF factory uses the .from_pretrained API to
    directly build and load the model at the same time.

    We also assume that the build_and_load_model method will auto-shard the model appropriately.
    """

    transform_key = "build_and_load_factory_model"  # the key it is registered under, for use outside a pipeline

    def target_device(self, cm: Optional[CachedSequenceInterface]) -> str:
        """The device to load onto: the config's when it is a real device, else ``cm.device``."""
        if self.config.device != "meta":
            return self.config.device
        device = getattr(cm, "device", None)
        return str(device) if device else FALLBACK_DEVICE

    def _apply_to_full_model(
        self,
        mod: nn.Module,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[nn.Module, TransformInfo]:
        """Build and load the model on `target_device` and register it as ``mod.factory_model``."""
        key = self.key
        factory = require_factory(factory, key)
        if type(factory).build_and_load_model is ModelFactory.build_and_load_model:
            raise _cannot_build_and_load(factory, key)
        try:
            model = factory.build_and_load_model(self.target_device(cm))
        except NotImplementedError as exc:
            raise _cannot_build_and_load(factory, key) from exc
        return attach_factory_model(mod, model)


def _cannot_build_and_load(factory: ModelFactory, key: str) -> ConfigError:
    return ConfigError(
        f"model factory {factory.describe()} cannot build and load a model at once "
        f"(no build_and_load_model), which {key} needs; use the graph mode "
        "(build_model, then load_weights) with this factory, or a factory that can"
    )
