"""Transformers mode: cached attention without a graph, through transformers' AttentionInterface.

transformers calls the attention function registered under the model's ``attn_implementation``
from every attention layer, with the layer itself (``module``), q/k/v in bnsd layout and the
layer's ``scaling``, ``sliding_window`` and ``softcap``. Registering our function under
`ATTN_IMPLEMENTATION` (and a mask function that builds no mask: the op is causal itself) lets
the unchanged Hugging Face module run cached attention: `CachedHFModule` binds the step's
metadata and caches for the duration of one call, and each layer finds its caches through the
`LayerCache` attached to it by `detect_hf_attn_layers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from autodeploy import AttentionBackend, AutodeployError
from autodeploy.graph import logits_of

from .cached_module import CachedModule, CacheSpec

ATTN_IMPLEMENTATION = "autodeploy_cached"
LAYER_ATTR = "_autodeploy_layer_cache"


@dataclass
class StepBinding:
    """The step being run: the backend's metadata tensors and every cache, by name (None between calls)."""

    inputs: Optional[dict[str, Any]] = None


@dataclass
class LayerCache:
    """What one attention layer needs to find its caches."""

    layer: int
    binding: StepBinding
    cache_names: list[str] = field(default_factory=list)
    metadata: tuple[str, ...] = ()
    op: Any = None


def find_attention_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The attention modules of a transformers model: submodules with a ``layer_idx`` whose class
    name ends in ``Attention`` (every decoder in transformers names them so), in layer order."""
    found = [
        (name, module)
        for name, module in model.named_modules()
        if type(module).__name__.endswith("Attention") and isinstance(getattr(module, "layer_idx", None), int)
    ]
    return sorted(found, key=lambda item: item[1].layer_idx)


def kv_sizes(model: nn.Module) -> tuple[int, int]:
    """(k/v heads, head dim) of a transformers model, from its config."""
    config: Any = getattr(model, "config", None)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = getattr(text, "num_attention_heads", None) or getattr(text, "n_head", None)
    hidden = getattr(text, "hidden_size", None) or getattr(text, "n_embd", None)
    if heads is None or hidden is None:
        raise AutodeployError(f"cannot read the attention sizes of {type(model).__name__} from its config")
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    return int(kv_heads), int(head_dim)


def cached_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    scaling: Optional[float] = None,
    dropout: float = 0.0,
    sliding_window: Optional[int] = None,
    softcap: Optional[float] = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature; returns ``([batch, seq, heads, dim], None)``."""
    import autodeploy.ops  # noqa: F401

    q, k, v = query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)
    cache: Optional[LayerCache] = getattr(module, LAYER_ATTR, None)
    inputs = cache.binding.inputs if cache is not None else None
    if cache is None or inputs is None:  # not inside a cached step: plain causal attention over the call's tokens
        out = torch.ops.autodeploy.torch_attention(q, k, v, None, 0.0, True, scaling, sliding_window, softcap)
        return out, None
    metadata = [inputs[name] for name in cache.metadata]
    caches = [inputs[name] for name in cache.cache_names]
    return cache.op(q, k, v, *metadata, *caches, scaling, sliding_window, softcap), None


def _no_mask(*args: Any, **kwargs: Any) -> None:
    """The mask function of `ATTN_IMPLEMENTATION`: none (the attention op is causal itself)."""
    return None


def register_attention_function() -> None:
    """Register the attention and mask functions with transformers (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(ATTN_IMPLEMENTATION, cached_attention_forward)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, _no_mask)


def use_attention_function(model: nn.Module) -> None:
    """Make `model` call `cached_attention_forward` from every attention layer."""
    register_attention_function()
    setter = getattr(model, "set_attn_implementation", None)
    if callable(setter):
        setter(ATTN_IMPLEMENTATION)
    else:
        config: Any = model.config
        config._attn_implementation = ATTN_IMPLEMENTATION


class CachedHFModule(CachedModule):
    """A transformers model whose attention layers read and write the caches (transformers mode)."""

    def __init__(self, model: nn.Module, backend: AttentionBackend, caches: list[CacheSpec], binding: StepBinding):
        super().__init__(model, backend, caches)
        self.binding = binding

    def _run_step(self, input_ids: torch.Tensor, position_ids: torch.Tensor, inputs: dict[str, Any]) -> Any:
        self.binding.inputs = inputs
        try:
            output = self.model(input_ids=input_ids, position_ids=position_ids, use_cache=False)
        finally:
            self.binding.inputs = None
        return logits_of(output)
