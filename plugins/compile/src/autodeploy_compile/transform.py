"""The ``compile_model`` transform (stage compile). Torch-free at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

from .config import CompileModelConfig

if TYPE_CHECKING:
    from torch import nn

    from autodeploy import CachedSequenceInterface, ModelFactory


class CompileModel(BaseTransform):
    """A transform to compile the model.

    ``torch-simple`` compiles nothing (the presets' default: no compile cost); its graph runs as
    generated Python, so its custom-op nodes call their Python functions directly, export's
    metadata assertions and same-dtype casts are dropped, and float32 and bfloat16 CPU linears
    run over weights packed once for oneDNN (`autodeploy_compile.direct_calls`; the run report's
    details count them).
    ``torch-compile`` wraps the model at ``mod.factory_model`` (or the module itself when it has
    none) in ``torch.compile`` with ``compile_mode``, ``dynamic``, ``fullgraph`` and
    ``compile_kwargs``; with ``warmup`` it runs once on the example inputs under
    ``torch.no_grad()``, so that compilation time and errors land in this transform (call the
    result under ``no_grad`` too, or torch compiles again). The result is called like the model:
    ``mod(input_ids)``. ``cuda_graph_batch_sizes`` only matters on CUDA, where torch-compile
    warms up at each of those batch sizes; on CPU it is ignored.
    """

    transform_key = "compile_model"  # the key it is registered under, for use outside a pipeline

    config: CompileModelConfig

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        return CompileModelConfig

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        from .backends import compile_pipeline_module

        mod, compiled = compile_pipeline_module(mod, cm, self.config)
        details = {}
        if not compiled:  # the graph runs as generated Python: make its calls direct (see direct_calls)
            from .direct_calls import call_ops_directly

            details = call_ops_directly(mod)
        return mod, TransformInfo(
            skipped=False, num_matches=compiled, is_clean=True, has_valid_shapes=True, details=details
        )
