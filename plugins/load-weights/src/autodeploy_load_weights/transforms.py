"""The transforms ``load_weights`` and ``move_inputs_to_device`` (stage weight_load).

Torch-free at import: the work happens in modules imported when a transform runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from autodeploy import BaseTransform, ConfigError, SharedConfig, TransformConfig, TransformInfo

from .config import LoadWeightsToDeviceConfig, MoveDeviceConfig

if TYPE_CHECKING:
    from torch import fx, nn

    from autodeploy import CachedSequenceInterface, ModelFactory


class LoadWeightsToDevice(BaseTransform):
    """Load the checkpoint into the model on the target device, one shard at a time.

    Streams the factory's checkpoint shards (``iter_checkpoint_shards``) into the model at
    ``mod.factory_model`` (an exported GraphModule or an eager model built on meta; the module
    itself when it has no ``factory_model``). Tensors already on the device with the model's
    dtype are assigned without a copy; others are cast (within floating point, integer or
    complex types). A shard is released before the next is read: the load holds the model
    plus one shard. ``checkpoint_device``, when set, is where tensors are read to before the
    weights move to ``cm.device``.

    Afterwards every parameter and persistent buffer must have been loaded or tied: tied
    weights (``lm_head.weight`` with ``tie_word_embeddings``), which checkpoints store once,
    get the loaded tensor under all their names. A missing, unexpected or misshapen tensor, or
    a dtype that cannot be cast, is a `CheckpointError` listing the first offenders (name,
    shapes, shard file). Then the factory's non-persistent buffers (``init_buffers``, e.g.
    rotary ``inv_freq``) are put in place and exported graphs are retargeted from the meta
    device to ``cm.device`` (with the core's ``retarget_device``).

    When the factory skips loading weights (``skip_loading_weights``), no checkpoint is read:
    weights are allocated on the device and filled from a seeded generator (matrices from
    normal(0, ``random_init_std``), biases zeros, other 1-D weights ones); the same seed gives
    the same weights.
    """

    transform_key = "load_weights"  # the key it is registered under, for use outside a pipeline

    config: LoadWeightsToDeviceConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return LoadWeightsToDeviceConfig

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        from .loading import LoadOptions, load_weights

        if factory is None:
            raise ConfigError(  # the same error type as build_model's: the config names no factory
                f"{self.key} needs a model factory to read the checkpoint from, but the pipeline has none; "
                "give one (e.g. model_factory: AutoModelForCausalLM with model: <checkpoint folder>)"
            )
        options = LoadOptions(
            device=cm.device,
            checkpoint_device=self.config.checkpoint_device,
            show_progress=self.config.show_progress,
            random_init_seed=self.config.random_init_seed,
            random_init_std=self.config.random_init_std,
        )
        summary = load_weights(mod, factory, options)
        return mod, TransformInfo(skipped=False, num_matches=summary.tensors, is_clean=True, has_valid_shapes=True)


class MoveInputsToDevice(BaseTransform):
    """Move the graph's recorded inputs and constants to the target device.

    The placeholders' example values (``meta["val"]``) and the tensors read by ``get_attr``
    nodes are put on ``cm.device``; the matches count what moved.
    ``checkpoint_device`` is accepted (AutoDeploy's presets pass it) and not used.
    """

    transform_key = "move_inputs_to_device"  # the key it is registered under, for use outside a pipeline

    config: MoveDeviceConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return MoveDeviceConfig

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .graph_inputs import move_graph_inputs

        moved = move_graph_inputs(gm, cm.device)
        return gm, TransformInfo(skipped=False, num_matches=moved, is_clean=True, has_valid_shapes=True)
