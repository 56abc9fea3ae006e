"""What each ``compile_model`` backend does to the module."""

from __future__ import annotations

import logging

import torch
from torch import nn

from autodeploy import CachedSequenceInterface

from .config import CompileModelConfig

logger = logging.getLogger(__name__)


def compile_pipeline_module(
    mod: nn.Module, cm: CachedSequenceInterface, config: CompileModelConfig
) -> tuple[nn.Module, int]:
    """Apply the configured backend; returns the module to use and how many modules were compiled."""
    on_cuda = torch.device(cm.device).type == "cuda"
    if config.cuda_graph_batch_sizes and not (on_cuda and config.backend == "torch-compile"):
        logger.info(
            "cuda_graph_batch_sizes %s ignored: only used by torch-compile on CUDA (device %s, backend %s)",
            config.cuda_graph_batch_sizes,
            cm.device,
            config.backend,
        )
    if config.backend == "torch-simple":
        return mod, 0
    return _torch_compile(mod, cm, config, on_cuda), 1


def _torch_compile(mod: nn.Module, cm: CachedSequenceInterface, config: CompileModelConfig, on_cuda: bool) -> nn.Module:
    from autodeploy.graph import get_pipeline_model, set_pipeline_model

    target = get_pipeline_model(mod)
    compiled = torch.compile(
        target, mode=config.compile_mode, dynamic=config.dynamic, fullgraph=config.fullgraph, **config.compile_kwargs
    )
    mod = set_pipeline_model(mod, compiled)  # type: ignore[arg-type]  # torch.compile of a module is a module
    if config.warmup:
        batch_sizes = config.cuda_graph_batch_sizes if on_cuda and config.cuda_graph_batch_sizes else [None]
        for batch_size in batch_sizes:
            _run_example(mod, cm, batch_size)
    return mod


def _run_example(mod: nn.Module, cm: CachedSequenceInterface, batch_size: int | None) -> None:
    """One call on example inputs (of `batch_size` rows when given) under no_grad: compiles."""
    inputs = cm.example_inputs(device=cm.device)
    if batch_size is not None:
        inputs = {name: value[:1].expand(batch_size, *value.shape[1:]).contiguous() for name, value in inputs.items()}
    with torch.no_grad():
        mod(**inputs)
