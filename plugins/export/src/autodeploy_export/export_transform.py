"""The ``export_to_gm`` transform (stage ``export``): capture the model as a ``torch.fx.GraphModule``.

It runs once on the whole pipeline module (``run_per_gm: false``): the eager model that the
factory stage put at ``mod.factory_model`` (usually built on the meta device, without weights)
is exported with ``torch.export.export`` and the resulting GraphModule takes its place. When the
module has no ``factory_model`` (a plain model handed straight to the optimizer), the module
itself is exported and the GraphModule is returned in its place, as in AutoDeploy.

This module is imported when transforms are listed, so it must not import torch; the capture
itself lives in `autodeploy_export.capture`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from pydantic import Field

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import nn

    from autodeploy import CachedSequenceInterface, ModelFactory

CACHE_DIR_SETTING = "cache_dir"
"""The shared-config setting naming the autodeploy cache folder (``autodeploy run`` sets it;
None or absent: no export cache)."""


class ExportToGMConfig(TransformConfig):
    """Configuration for the export to graph module transform."""

    strict: bool = Field(
        default=False,
        description="Whether to export in strict mode (TorchDynamo traces the Python code). Non-strict "
        "mode (the default) runs the Python code as is and is several times faster.",
    )
    clone_state_dict: bool = Field(
        default=False,
        description="Whether to clone the state_dict of the model, so that the exported graph module owns "
        "its parameters and buffers instead of sharing them with the eager model (costs a copy of the "
        "weights when they are real; free on the meta device). Tied weights stay tied.",
    )
    dynamic_batch: bool = Field(
        default=True,
        description="Whether the batch dimension of the inputs stays dynamic (1 to the sequence interface's "
        "max_batch_size). When false it is fixed to the example batch size.",
    )
    dynamic_seq: bool = Field(
        default=True,
        description="Whether the sequence dimension of the inputs stays dynamic (1 to the sequence interface's "
        "max_seq_len). When false it is fixed to the example sequence length.",
    )


class ExportToGM(BaseTransform):
    """Export the model to a ``torch.fx.GraphModule`` that takes ``input_ids`` and returns the logits.

    Hugging Face causal LMs are called with ``use_cache=False`` (export cannot return the cache
    object), in eval mode. The batch and sequence dimensions stay dynamic within the sequence
    interface's limits. The GraphModule keeps the eager model's parameter and buffer names
    (its ``state_dict()`` keys equal the model's), so checkpoints load into it by name.

    When the run's shared config names a cache folder (``cache_dir``, set by ``autodeploy run``
    unless ``--no-cache``), the exported program is cached there and a later run of the same
    model and settings loads it instead of exporting again; the run report then says
    ``applied (cache hit)``.
    """

    config: ExportToGMConfig
    # the key it is registered under; set here too so that direct use names it the same way
    transform_key = "export_to_gm"  # the key it is registered under, for use outside a pipeline

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return ExportToGMConfig

    def _apply_to_full_model(
        self,
        mod: nn.Module,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[nn.Module, TransformInfo]:
        from torch import fx

        from autodeploy.graph import get_pipeline_model, set_pipeline_model

        from .capture import EXPORT_META_KEY, ExportOptions, export_model
        from .export_cache import CACHE_NOTES, ExportCache

        model = get_pipeline_model(mod)
        if isinstance(model, fx.GraphModule):
            # already a graph (exported earlier, or traced by the user): nothing to capture
            return mod, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)

        options = ExportOptions(
            strict=self.config.strict,
            clone_state_dict=self.config.clone_state_dict,
            dynamic_batch=self.config.dynamic_batch,
            dynamic_seq=self.config.dynamic_seq,
        )
        cache_dir = shared_config.extra(CACHE_DIR_SETTING)
        cache = ExportCache(cache_dir) if cache_dir else None
        gm = export_model(model, cm, options, cache)
        outcome = gm.meta[EXPORT_META_KEY]["cache"]
        if outcome in CACHE_NOTES:
            self.note(CACHE_NOTES[outcome])
        mod = set_pipeline_model(mod, gm)
        # export yields a clean graph with fake-tensor values recorded on every node
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)
