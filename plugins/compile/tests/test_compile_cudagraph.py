"""AutoDeploy's CUDA-graph backends: torch-cudagraph and torch-opt fall back on CPU with a warning,
and on CUDA replay captured decode steps with the model's outputs."""

from __future__ import annotations

import logging

import pytest
import torch
from autodeploy_compile.cudagraph import CapturedGraph, default_batch_sizes, round_up
from autodeploy_compile.transform import CompileModel
from test_compile_model import Container, TinyLM

from autodeploy import CachedSequenceInterface, SharedConfig


def compile_model(mod, cm, **config):
    transform = CompileModel.from_kwargs(stage="compile", **config)
    return transform(mod, cm, None, SharedConfig())


def test_torch_cudagraph_on_cpu_runs_as_torch_simple_with_a_warning(caplog):
    cm = CachedSequenceInterface(max_seq_len=16, max_batch_size=4, device="cpu")
    mod = Container(TinyLM())
    with caplog.at_level(logging.WARNING, logger="autodeploy.compile"):
        result = compile_model(mod, cm, backend="torch-cudagraph", cuda_graph_batch_sizes=[4, 1])
    assert result is mod and isinstance(result.factory_model, TinyLM)
    assert "torch-cudagraph needs CUDA graphs, which device cpu lacks: using torch-simple instead" in caplog.text


def test_torch_opt_on_cpu_runs_as_torch_compile_with_a_warning(caplog):
    cm = CachedSequenceInterface(max_seq_len=16, max_batch_size=4, device="cpu")
    model = TinyLM()
    with caplog.at_level(logging.WARNING, logger="autodeploy.compile"):
        result = compile_model(Container(model), cm, backend="torch-opt", warmup=False)
    assert isinstance(result.factory_model, torch._dynamo.eval_frame.OptimizedModule)  # compiled lazily
    assert result.factory_model._orig_mod is model
    assert "torch-opt needs CUDA graphs, which device cpu lacks: using torch-compile instead" in caplog.text


def test_batch_sizes_follow_autodeploy():
    assert default_batch_sizes(8) == [8, 1]
    assert default_batch_sizes(300) == [300, 256, 128, 113, 97, 81, 65, 49, 33, 17, 1]
    assert round_up([8, 4, 1], 3) == 4 and round_up([8, 4, 1], 9) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_captured_decode_steps_match_the_eager_model():
    torch.manual_seed(0)
    cm = CachedSequenceInterface(max_seq_len=16, max_batch_size=4, device="cuda")
    model = TinyLM().cuda().eval()
    result = compile_model(Container(model), cm, backend="torch-cudagraph", cuda_graph_batch_sizes=[4, 2])
    captured = result.factory_model
    assert isinstance(captured, CapturedGraph) and captured.captured_sizes == [4, 2]
    with torch.no_grad():
        for batch in (1, 2, 3, 4):
            ids = torch.randint(0, 50, (batch, 1), device="cuda")
            torch.testing.assert_close(result(ids), model(ids), rtol=1e-5, atol=1e-5)
        prefill = torch.randint(0, 50, (2, 5), device="cuda")  # not a decode step: runs eagerly
        torch.testing.assert_close(result(prefill), model(prefill), rtol=1e-5, atol=1e-5)
