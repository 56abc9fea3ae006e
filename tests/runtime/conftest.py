"""Fixtures of the runtime tests: a tiny random Llama checkpoint with a real (word-level)
tokenizer, its pipelines built once per session, and Hugging Face's greedy answers to compare.

The pipelines are the presets as they are: when the presets include the KV cache, these tests
run the cached path; before, the uncached one (full re-runs). `cached` says which.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runtime_support import build_llm, save_tiny_llama_with_tokenizer


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama_with_tokenizer(tmp_path_factory.mktemp("runtime_tiny"))


@pytest.fixture(scope="session")
def graph_llm(tiny_checkpoint):
    return build_llm(tiny_checkpoint, "graph")


@pytest.fixture(scope="session")
def transformers_llm(tiny_checkpoint):
    return build_llm(tiny_checkpoint, "transformers")


@pytest.fixture(scope="session")
def hf_model(tiny_checkpoint):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_checkpoint, dtype="float32").eval()
