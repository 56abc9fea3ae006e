"""From a config to a ready pipeline and engine: the one path `run`, `LLM` and `serve` share.

`prepare_pipeline` resolves the model (a folder, or a name a plugin prepares in the cache),
builds the factory and the optimizer (which validates every transform entry) without running
anything heavy; `build_engine` wraps the pipeline's result in an `Engine` with the model's
end-of-sequence ids and vocabulary size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..cli.model_source import ResolvedModel, default_cache_dir, resolve_model
from ..cli.prompting import end_of_sequence_ids
from ..optimizer import InferenceOptimizer, build_factory
from .engine import Engine

if TYPE_CHECKING:
    from ..factory import ModelFactory
    from ..interface import CachedSequenceInterface
    from ..optimizer import PipelineConfig
    from ..plugin import PluginHost


@dataclass(frozen=True)
class PreparedPipeline:
    """The config (with the resolved model folder), the model, its factory and the optimizer."""

    config: PipelineConfig
    resolved: ResolvedModel
    factory: ModelFactory
    optimizer: InferenceOptimizer


def prepare_pipeline(
    host: PluginHost,
    config: PipelineConfig,
    requested_model: Optional[str] = None,
    cache_dir: Optional[Path] = None,
    *,
    strict: bool = False,
    allow_unavailable: Optional[bool] = None,
) -> PreparedPipeline:
    """Resolve the model (`requested_model`, else ``config.model``, else the default model) and
    build the factory and the optimizer for it (`strict` / `allow_unavailable`: as `validate`)."""
    requested = requested_model if requested_model is not None else config.model
    resolved = resolve_model(requested, host, cache_dir if cache_dir is not None else default_cache_dir())
    config = config.model_copy(update={"model": resolved.path})
    factory = build_factory(host, config)
    optimizer = InferenceOptimizer(  # validates every entry, before torch is loaded
        factory, config, host=host, strict=strict, allow_unavailable=allow_unavailable
    )
    return PreparedPipeline(config=config, resolved=resolved, factory=factory, optimizer=optimizer)


def build_engine(
    module: Any, cm: CachedSequenceInterface, tokenizer: Any, factory: ModelFactory, model_dir: Optional[str]
) -> Engine:
    """An engine over the pipeline's module, stopping at the model's end-of-sequence ids."""
    return Engine(
        module,
        cm,
        tokenizer=tokenizer,
        eos_token_ids=end_of_sequence_ids(factory, tokenizer),
        vocab_size=checkpoint_vocab_size(model_dir),
    )


def checkpoint_vocab_size(model_dir: Optional[str]) -> Optional[int]:
    """``vocab_size`` from the checkpoint's config.json (also under ``text_config``), or None."""
    if model_dir is None:
        return None
    try:
        data = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for holder in (data, data.get("text_config") if isinstance(data, dict) else None):
        if isinstance(holder, dict) and isinstance(holder.get("vocab_size"), int) and holder["vocab_size"] > 0:
            return holder["vocab_size"]
    return None
