"""compile_model: torch-simple keeps the module, torch-compile compiles it (one real inductor
compile on a tiny model), and a wrong backend or option is a clear config error."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch
from autodeploy_compile.config import CompileModelConfig
from autodeploy_compile.transform import CompileModel
from pydantic import ValidationError
from torch import nn

from autodeploy import CachedSequenceInterface, ConfigError, PluginHost, SharedConfig


class TinyLM(nn.Module):
    """input_ids -> logits, small enough that inductor compiles it in seconds."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.SiLU(), nn.Linear(32, 16))
        self.head = nn.Linear(16, 50)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(input_ids)
        return self.head(hidden + self.mlp(hidden))


class Container(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.factory_model = model

    def forward(self, *args, **kwargs):
        return self.factory_model(*args, **kwargs)


@pytest.fixture
def cm() -> CachedSequenceInterface:
    return CachedSequenceInterface(max_seq_len=16, max_batch_size=4, device="cpu")


def compile_model(mod, cm, **config):
    transform = CompileModel.from_kwargs(stage="compile", run_per_gm=False, **config)
    return transform(mod, cm, None, SharedConfig()), transform


def test_torch_simple_returns_the_module_unchanged(cm):
    torch.manual_seed(0)
    model = TinyLM().eval()
    ids = torch.randint(0, 50, (3, 5))
    with torch.no_grad():
        expected = model(ids)
    mod = Container(model)

    result, transform = compile_model(mod, cm, backend="torch-simple")

    assert result is mod and result.factory_model is model
    with torch.no_grad():
        torch.testing.assert_close(result(ids), expected, rtol=0, atol=0)
    assert transform.last_record.status.value == "applied"
    assert transform.last_record.num_matches == 0


def test_cuda_graph_batch_sizes_are_ignored_on_cpu(cm, caplog):
    mod = Container(TinyLM())
    with caplog.at_level(logging.INFO, logger="autodeploy_compile"):
        result, _ = compile_model(mod, cm, backend="torch-simple", cuda_graph_batch_sizes=[4, 1, 2, 2])

    assert result is mod
    assert "cuda_graph_batch_sizes [4, 2, 1] ignored" in caplog.text


def test_bad_backend_lists_the_valid_ones():
    with pytest.raises(ValidationError) as raised:
        CompileModelConfig(stage="compile", backend="torch-compil")
    message = str(raised.value)
    assert "backend" in message
    assert "'torch-simple'" in message and "'torch-compile'" in message


def test_bad_backend_in_a_pipeline_is_a_config_error_naming_transform_and_field():
    from autodeploy import InferenceOptimizer

    config = {"transforms": {"compile_model": {"stage": "compile", "run_per_gm": False, "backend": "inductor"}}}
    with pytest.raises(ConfigError) as raised:
        InferenceOptimizer(None, config, host=PluginHost.from_environment())
    message = str(raised.value)
    assert "compile_model" in message and "backend" in message
    assert "torch-simple" in message and "torch-compile" in message


def test_backend_is_required_as_in_autodeploy():
    with pytest.raises(ValidationError, match="backend"):
        CompileModelConfig(stage="compile")


def test_option_with_its_own_field_is_refused_in_compile_kwargs():
    with pytest.raises(ValidationError, match="'mode' -> set `compile_mode`"):
        CompileModelConfig(stage="compile", backend="torch-compile", compile_kwargs={"mode": "max-autotune"})
    with pytest.raises(ValidationError, match="batch sizes must be >= 1"):
        CompileModelConfig(stage="compile", backend="torch-simple", cuda_graph_batch_sizes=[0, 8])


def test_presets_use_torch_simple():
    host = PluginHost.from_environment()
    assert host.transform_class("compile_model") is CompileModel
    for mode in ("graph", "transformers"):
        entry = host.mode(mode)["compile_model"]
        assert entry["stage"] == "compile" and entry["backend"] == "torch-simple"
        assert entry["run_per_gm"] is False


def test_plugin_imports_without_torch():
    code = (
        "import sys\n"
        "from autodeploy import PluginControls, PluginHost\n"
        "import autodeploy_compile.plugin as plugin\n"
        "host = PluginHost(PluginControls(autoload=False)); host.register(plugin, name='compile')\n"
        "host.transform_class('compile_model').get_config_class()(stage='compile', backend='torch-compile')\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_torch_compile_compiles_the_model_once_and_keeps_its_outputs(cm):
    """One inductor compile (warm-up on the example inputs, static shapes); the call after it
    has the example's shape, so it reuses the compiled code."""
    torch.manual_seed(0)
    model = TinyLM().eval()
    ids = torch.randint(0, 50, (cm.example_batch_size, cm.example_seq_len))
    with torch.no_grad():
        expected = model(ids)

    mod, transform = compile_model(
        Container(model), cm, backend="torch-compile", dynamic=False, compile_kwargs={"options": {"compile_threads": 1}}
    )

    assert isinstance(mod.factory_model, torch._dynamo.eval_frame.OptimizedModule)
    assert mod.factory_model._orig_mod is model
    assert transform.last_record.num_matches == 1
    compiled_graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert compiled_graphs >= 1  # the warm-up compiled inside the transform
    with torch.no_grad():
        torch.testing.assert_close(mod(ids), expected, rtol=1e-5, atol=1e-5)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == compiled_graphs  # no recompile
