"""The cache_init transforms (AutoDeploy's keys). Torch-free at import; the work is in the
modules each imports when it runs.

Graph mode: ``insert_cached_attention`` -> ``initialize_cache`` -> ``resize_kv_cache``.
Transformers mode: ``detect_hf_attn_layers`` -> ``transformers_replace_cached_attn`` ->
``initialize_cache`` -> ``resize_kv_cache``. Afterwards the module runs a step as
``mod(**cm.named_args)`` (see `autodeploy_kv_cache.cached_module`).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any, Optional

from pydantic import Field

from autodeploy import AttentionBackend, AutodeployError, BaseTransform, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import nn

    from autodeploy import CachedSequenceInterface, ModelFactory

DETECTED_ATTR = "_autodeploy_attention_layers"
logger = logging.getLogger("autodeploy.kv_cache")


class CacheInitError(AutodeployError):
    """A cache_init transform cannot do its job on this module (says which and why)."""


class CachedAttentionConfig(TransformConfig):
    """Configuration of the transforms that insert cached attention."""

    backend: str = Field(
        default="torch",
        description="The attention backend whose cached attention op and cache layout are used; backends "
        "come with plugins (`torch` is first-party and runs on CPU and CUDA).",
    )


class ResizeKVCacheConfig(TransformConfig):
    """Configuration of ``resize_kv_cache``."""

    free_mem_ratio: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description="The fraction of the memory available to the KV cache (the device's free memory plus what "
        "the caches already hold) that the cache may take. The cache never grows beyond what max_batch_size "
        "and max_seq_len need; when the limits need more than this, max_batch_size is lowered to what fits.",
    )


@cache
def _backend(name: str) -> AttentionBackend:
    if name == "torch":
        from .torch_backend import TorchAttentionBackend

        return TorchAttentionBackend()
    from autodeploy import PluginHost

    return PluginHost.from_environment().attention_backend(name)


def _model_slot(mod: nn.Module) -> tuple[nn.Module, None]:
    """The model in the pipeline's container (``mod.factory_model``) or `mod` itself."""
    from autodeploy.graph import get_pipeline_model

    return get_pipeline_model(mod), None


def _put_model(mod: nn.Module, model: nn.Module, _slot: None) -> nn.Module:
    from autodeploy.graph import set_pipeline_model

    return set_pipeline_model(mod, model)


def _info(num_matches: int, **details: Any) -> TransformInfo:
    return TransformInfo(
        skipped=False, num_matches=num_matches, is_clean=True, has_valid_shapes=num_matches == 0, details=details
    )


class InsertCachedAttention(BaseTransform):
    """Replace every ``autodeploy::torch_attention`` of the exported graph with the backend's cached
    attention, reading and writing one K and one V cache per layer at each sequence's slot.

    The graph then takes the step's inputs (``cm.graph_inputs``: ``input_ids``, ``position_ids``,
    the backend's metadata, the caches) and is wrapped so that it can still be called like the
    model (``module(input_ids=...)``, whole sequences, scratch caches). An attention left uncached
    (not matched in the pattern_matcher stage) is an error.
    """

    config: CachedAttentionConfig
    transform_key = "insert_cached_attention"  # the key it is registered under, for use outside a pipeline

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return CachedAttentionConfig

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        from torch import fx

        from autodeploy.graph import run_shape_prop

        from .cached_module import CachedGraphModule
        from .graph_cached import check_no_uncached_attention, insert_cached_attention

        model, has_slot = _model_slot(mod)
        if not isinstance(model, fx.GraphModule):
            # export disabled: an eager model has no graph to rewrite; it runs uncached
            logger.warning(
                "insert_cached_attention: the model is %s, not an exported graph; skipped (the module runs "
                "uncached; in transformers mode use detect_hf_attn_layers and transformers_replace_cached_attn)",
                type(model).__name__,
            )
            return mod, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        backend = _backend(self.config.backend)
        run_shape_prop(model, cm, only_missing=True)  # the matchers' new nodes; the rest kept export's
        num_layers, specs = insert_cached_attention(model, cm, backend)
        check_no_uncached_attention(model)
        if not num_layers:
            return mod, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        from autodeploy import METADATA_NAMES

        metadata = tuple(name for name in cm.graph_inputs if name in METADATA_NAMES)
        wrapped = CachedGraphModule(model, backend, specs, metadata=metadata)
        return _put_model(mod, wrapped, has_slot), _info(num_layers, backend=self.config.backend)


class InitializeCache(BaseTransform):
    """Allocate every cache the earlier cache_init transforms registered, on the target device
    (``cm.initialize_caches()``); the run report shows their size in bytes."""

    transform_key = "initialize_cache"  # the key it is registered under, for use outside a pipeline

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        if not cm.cache_names:
            return mod, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        num_bytes = cm.initialize_caches()
        return mod, _info(len(cm.cache_names), cache_bytes=num_bytes, device=cm.device)


class ResizeKVCache(BaseTransform):
    """Size the KV cache from the device's free memory times ``free_mem_ratio``, never beyond what
    the limits (``max_batch_size`` sequences of ``max_seq_len`` tokens) need.

    The torch backend's caches hold one slot per sequence, so what the limits need is what
    ``initialize_cache`` allocated; when that does not fit, the number of slots
    (``cm.max_batch_size``) is lowered to what fits and the caches are allocated again.
    """

    config: ResizeKVCacheConfig
    transform_key = "resize_kv_cache"  # the key it is registered under, for use outside a pipeline

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return ResizeKVCacheConfig

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        from .memory import available_bytes

        if not cm.cache_names:
            return mod, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        if not cm.caches:
            cm.initialize_caches()
        allocated = cm.cache_bytes()
        budget = int((available_bytes(cm.device) + allocated) * self.config.free_mem_ratio)
        per_slot = max(1, allocated // cm.max_batch_size)
        if allocated <= budget:
            return mod, _info(0, cache_bytes=allocated, budget_bytes=budget, max_batch_size=cm.max_batch_size)
        slots = budget // per_slot
        if slots < 1:
            raise CacheInitError(
                f"one sequence of max_seq_len {cm.max_seq_len} needs {per_slot} bytes of KV cache, more than "
                f"the available memory x free_mem_ratio {self.config.free_mem_ratio} ({budget} bytes); lower "
                "max_seq_len or raise free_mem_ratio"
            )
        cm.caches = {}  # free the oversized caches before allocating the smaller ones
        cm.max_batch_size = int(slots)
        num_bytes = cm.initialize_caches()
        return mod, _info(1, cache_bytes=num_bytes, budget_bytes=budget, max_batch_size=cm.max_batch_size)


class DetectHFAttnLayers(BaseTransform):
    """Find the attention layers of a transformers model (transformers mode, no graph): every
    submodule with a ``layer_idx`` whose class name ends in ``Attention``."""

    transform_key = "detect_hf_attn_layers"  # the key it is registered under, for use outside a pipeline

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        from .hf_cached import find_attention_layers

        model, _ = _model_slot(mod)
        layers = find_attention_layers(model)
        if not layers:
            raise CacheInitError(
                f"found no attention layers in {type(model).__name__} (modules named *Attention with a layer_idx); "
                "disable the transformers-mode cache transforms to run it uncached"
            )
        setattr(model, DETECTED_ATTR, [name for name, _ in layers])
        return mod, _info(len(layers))


class TransformersReplaceCachedAttn(BaseTransform):
    """Let a transformers model's own attention layers use the backend's cached attention.

    A custom attention function registered with transformers' ``AttentionInterface`` (and a mask
    function that builds no mask) reads each layer's caches; the model is wrapped so that
    ``mod(**cm.named_args)`` runs a step, and ``mod(input_ids=...)`` still runs whole sequences.
    """

    config: CachedAttentionConfig
    transform_key = "transformers_replace_cached_attn"  # the key it is registered under, for use outside a pipeline

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return CachedAttentionConfig

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        from .cached_module import CacheSpec
        from .hf_cached import (
            LAYER_ATTR,
            CachedHFModule,
            LayerCache,
            StepBinding,
            find_attention_layers,
            kv_sizes,
            use_attention_function,
        )

        model, has_slot = _model_slot(mod)
        names = getattr(model, DETECTED_ATTR, None)
        modules = dict(model.named_modules())
        layers = [(name, modules[name]) for name in names] if names else find_attention_layers(model)
        if not layers:
            raise CacheInitError(f"{type(model).__name__} has no attention layers to cache (run detect_hf_attn_layers)")
        backend = _backend(self.config.backend)
        op = backend.cached_attention_op()
        kv_heads, head_dim = kv_sizes(model)
        dtype = next(model.parameters()).dtype
        binding = StepBinding()
        for name in backend.metadata:
            cm.add_graph_input(name)
        specs: list[CacheSpec] = []
        for layer, (_name, module) in enumerate(layers):
            layer_specs = [
                CacheSpec(backend.cache_name(kind, layer), kind, kv_heads, head_dim, dtype)
                for kind in backend.cache_kinds
            ]
            for spec in layer_specs:
                cm.add_cache(spec.name, _hf_allocator(backend, spec))
            specs.extend(layer_specs)
            setattr(
                module,
                LAYER_ATTR,
                LayerCache(layer, binding, [spec.name for spec in layer_specs], tuple(backend.metadata), op),
            )
        use_attention_function(model)
        wrapped = CachedHFModule(model, backend, specs, binding)
        return _put_model(mod, wrapped, has_slot), _info(len(layers), backend=self.config.backend)


def _hf_allocator(backend: AttentionBackend, spec: Any):
    def allocate(cm: CachedSequenceInterface) -> Any:
        return spec.allocate(backend, cm.max_batch_size, cm.max_seq_len, cm.device)

    return allocate
