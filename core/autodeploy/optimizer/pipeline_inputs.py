"""The model factory and sequence interface a pipeline config describes.

A config names its model (``model``, ``model_factory``, ``model_kwargs``, ...) and limits
(``max_seq_len``, ``max_batch_size``, ``device``); these helpers turn them into the objects
`InferenceOptimizer` runs with, so that a YAML file alone is enough to run a pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, PluginError
from ..interface import CachedSequenceInterface

if TYPE_CHECKING:
    from ..factory import ModelFactory
    from ..plugin import PluginHost
    from .pipeline_config import PipelineConfig


def factory_class_of(host: PluginHost, config: PipelineConfig) -> type[ModelFactory]:
    """The registered factory class ``config.model_factory`` names; errors name the layer that chose it."""
    chosen_here = "model_factory" in config.model_fields_set
    try:
        return host.factory_class(config.model_factory)
    except ConfigError as exc:
        if exc.source is not None or not chosen_here:
            raise
        # name the layer that chose the factory (the host cannot know it)
        raise ConfigError(exc.message, source=config.source_of("model_factory"), path="model_factory") from None
    except PluginError as exc:
        if not chosen_here:
            raise
        raise PluginError(f"{config.source_of('model_factory')}: model_factory: {exc}") from None


def build_factory(host: PluginHost, config: PipelineConfig) -> ModelFactory:
    """The registered factory ``config.model_factory``, set up with the config's model settings."""
    factory_class = factory_class_of(host, config)
    # passed only when asked for: a factory that never runs remote code need not know the argument
    optional: dict[str, Any] = {"trust_remote_code": True} if config.trust_remote_code else {}
    if config.dtype != "auto":
        optional["dtype"] = config.dtype
    return factory_class(
        model=config.model,
        model_kwargs=config.model_kwargs,
        skip_loading_weights=config.skip_loading_weights,
        tokenizer=config.tokenizer,
        max_seq_len=config.max_seq_len,
        **optional,
    )


def build_sequence_interface(config: PipelineConfig) -> CachedSequenceInterface:
    """The sequence interface (``cm``) for the config's device and limits."""
    return CachedSequenceInterface(
        max_seq_len=config.max_seq_len,
        max_batch_size=config.max_batch_size,
        max_num_tokens=config.max_num_tokens,
        device=config.device,
    )
