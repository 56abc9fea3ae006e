"""Loading: build_and_load_model and the streamed load (load_or_random_init) give exactly the logits
of transformers' own from_pretrained + eager forward, for every layout and several architectures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from autodeploy_hf import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory
from hf_testkit import folder_fingerprint, logits, reference_model
from transformers import AutoModelForImageTextToText

from autodeploy import ConfigError

CAUSAL_FOLDERS = [
    "llama_dir",
    "llama_sharded_dir",
    "qwen2_dir",
    "qwen2_sharded_dir",
    "gpt2_dir",
    "gemma_dir",
    "llama_bin_dir",
    "llama_bin_sharded_dir",
]


@pytest.mark.parametrize("folder_fixture", CAUSAL_FOLDERS)
def test_build_and_load_equals_from_pretrained(
    folder_fixture: str, request: pytest.FixtureRequest, input_ids: torch.Tensor
) -> None:
    folder: Path = request.getfixturevalue(folder_fixture)
    before = folder_fingerprint(folder)
    model = AutoModelForCausalLMFactory(model=str(folder)).build_and_load_model("cpu")
    expected = logits(reference_model(folder), input_ids)
    assert torch.equal(logits(model, input_ids), expected)
    assert folder_fingerprint(folder) == before


@pytest.mark.parametrize("folder_fixture", CAUSAL_FOLDERS)
def test_streamed_load_into_meta_build_equals_from_pretrained(
    folder_fixture: str, request: pytest.FixtureRequest, input_ids: torch.Tensor
) -> None:
    folder: Path = request.getfixturevalue(folder_fixture)
    before = folder_fingerprint(folder)
    factory = AutoModelForCausalLMFactory(model=str(folder))
    model = factory.build_model("meta")
    factory.load_or_random_init(model, "cpu")
    assert not any(t.is_meta for t in list(model.parameters()) + list(model.buffers()))
    expected = logits(reference_model(folder), input_ids)
    assert torch.equal(logits(model, input_ids), expected)
    # writing into the loaded (memory-mapped) parameters must not reach the checkpoint files
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert folder_fingerprint(folder) == before


def test_image_text_to_text_factory_loads_llava(llava_dir: Path, input_ids: torch.Tensor) -> None:
    reference = reference_model(llava_dir, auto_class=AutoModelForImageTextToText)
    factory = AutoModelForImageTextToTextFactory(model=str(llava_dir))
    loaded = factory.build_and_load_model("cpu")
    assert torch.equal(logits(loaded, input_ids), logits(reference, input_ids))
    # the checkpoint stores legacy names (language_model.model.*): streaming renames them as transformers does
    streamed = factory.build_model("meta")
    factory.load_or_random_init(streamed, "cpu")
    assert torch.equal(logits(streamed, input_ids), logits(reference, input_ids))


@pytest.mark.parametrize("sharded", [False, True])
def test_model_kwargs_override_loads_like_from_pretrained(
    sharded: bool, llama_dir: Path, llama_sharded_dir: Path, input_ids: torch.Tensor
) -> None:
    folder = llama_sharded_dir if sharded else llama_dir
    factory = AutoModelForCausalLMFactory(model=str(folder), model_kwargs={"num_hidden_layers": 1})
    expected = logits(reference_model(folder, num_hidden_layers=1), input_ids)
    loaded = factory.build_and_load_model("cpu")
    assert len(loaded.model.layers) == 1
    assert torch.equal(logits(loaded, input_ids), expected)
    streamed = factory.build_model("meta")
    factory.load_or_random_init(streamed, "cpu")
    assert torch.equal(logits(streamed, input_ids), expected)


def test_explicit_dtype_loads_in_that_dtype(llama_dir: Path, input_ids: torch.Tensor) -> None:
    model = AutoModelForCausalLMFactory(model=str(llama_dir), dtype="bfloat16").build_and_load_model("cpu")
    assert model.model.embed_tokens.weight.dtype == torch.bfloat16
    expected = logits(reference_model(llama_dir, dtype=torch.bfloat16), input_ids)
    assert torch.equal(logits(model, input_ids), expected)


def test_tied_weights_stay_tied_after_streaming(gpt2_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(gpt2_dir))
    model = factory.build_model("meta")
    factory.load_or_random_init(model, "cpu")
    assert model.lm_head.weight is model.transformer.wte.weight


def test_skip_loading_weights_initialises_randomly_with_real_buffers(llama_dir: Path, input_ids: torch.Tensor) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), skip_loading_weights=True)
    model = factory.build_model("meta")
    factory.load_or_random_init(model, "cpu")
    reference = reference_model(llama_dir)
    assert torch.equal(model.model.rotary_emb.inv_freq, reference.model.rotary_emb.inv_freq)
    out = logits(model, input_ids)
    assert torch.isfinite(out).all()
    assert not torch.equal(out, logits(reference, input_ids))  # random, not the checkpoint
    assert factory.checkpoint_files() == []
    assert isinstance(factory.build_and_load_model("cpu"), torch.nn.Module)


def test_build_and_load_refuses_the_meta_device(llama_dir: Path) -> None:
    with pytest.raises(ConfigError, match="meta device"):
        AutoModelForCausalLMFactory(model=str(llama_dir)).build_and_load_model("meta")
