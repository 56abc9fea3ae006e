"""What each ``compile_model`` backend does to the module."""

from __future__ import annotations

import logging

import torch
from torch import nn

from autodeploy import CachedSequenceInterface

from .config import CPU_STAND_INS, CompileModelConfig

logger = logging.getLogger(__name__)


def compile_pipeline_module(
    mod: nn.Module, cm: CachedSequenceInterface, config: CompileModelConfig
) -> tuple[nn.Module, int]:
    """Apply the configured backend; returns the module to use and how many modules were compiled."""
    on_cuda = torch.device(cm.device).type == "cuda"
    backend: str = config.backend  # a stand-in may replace it
    if backend in CPU_STAND_INS and not on_cuda:
        backend = CPU_STAND_INS[backend]
        logger.warning(
            "compile_model backend %s needs CUDA graphs, which device %s lacks: using %s instead",
            config.backend,
            cm.device,
            backend,
        )
    if config.cuda_graph_batch_sizes and not (on_cuda and backend != "torch-simple"):
        logger.info(
            "cuda_graph_batch_sizes %s ignored: only used on CUDA by torch-compile, torch-cudagraph and "
            "torch-opt (device %s, backend %s)",
            config.cuda_graph_batch_sizes,
            cm.device,
            backend,
        )
    if backend == "torch-simple":
        return mod, 0
    if backend == "torch-cudagraph":
        return _captured(mod, cm, config), 1
    if backend == "torch-opt":
        return _captured(_torch_compile(mod, cm, config, on_cuda, warmup=False), cm, config), 1
    return _torch_compile(mod, cm, config, on_cuda), 1


def _captured(mod: nn.Module, cm: CachedSequenceInterface, config: CompileModelConfig) -> nn.Module:
    """The model inside `mod` replaced by CUDA graphs of its decode step, one per batch size."""
    from autodeploy.graph import get_pipeline_model, set_pipeline_model

    from .cudagraph import CapturedGraph, default_batch_sizes

    sizes = config.cuda_graph_batch_sizes or default_batch_sizes(cm.max_batch_size)
    captured = CapturedGraph(get_pipeline_model(mod), sizes)
    with torch.no_grad():
        captured.capture(cm.example_inputs(device=cm.device))
    return set_pipeline_model(mod, captured)


def _torch_compile(
    mod: nn.Module, cm: CachedSequenceInterface, config: CompileModelConfig, on_cuda: bool, *, warmup: bool = True
) -> nn.Module:
    from autodeploy.graph import get_pipeline_model, set_pipeline_model

    target = get_pipeline_model(mod)
    compiled = torch.compile(
        target, mode=config.compile_mode, dynamic=config.dynamic, fullgraph=config.fullgraph, **config.compile_kwargs
    )
    mod = set_pipeline_model(mod, compiled)  # type: ignore[arg-type]  # torch.compile of a module is a module
    if config.warmup and warmup:
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
