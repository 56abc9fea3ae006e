"""build_model: meta builds allocate nothing, device builds initialise only when weights are skipped,
dtype "auto"/explicit, model_kwargs overrides, the second auto class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from autodeploy_hf import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory
from hf_testkit import storage_bytes_off_meta, tiny_llama_config
from transformers import LlamaConfig, LlamaForCausalLM, LlavaForConditionalGeneration, Qwen2ForCausalLM

from autodeploy import ConfigError
from autodeploy.testing import tiny_hf_config


def test_meta_build_allocates_no_storage(llama_dir: Path) -> None:
    model = AutoModelForCausalLMFactory(model=str(llama_dir)).build_model("meta")
    assert isinstance(model, LlamaForCausalLM)
    assert all(p.is_meta for p in model.parameters())
    assert storage_bytes_off_meta(model) == 0
    assert not model.training


def test_meta_build_of_70b_config_is_weightless(tmp_path: Path, llama_dir: Path) -> None:
    AutoModelForCausalLMFactory(model=str(llama_dir)).build_model("meta")  # warm up: import the Llama code
    config = tiny_hf_config(
        "llama",
        tie_word_embeddings=False,
        pad_token_id=None,
        max_position_embeddings=2048,
        hidden_size=8192,
        num_hidden_layers=80,
        vocab_size=128256,
        intermediate_size=28672,
        num_attention_heads=64,
        num_key_value_heads=8,
    )
    config.save_pretrained(tmp_path)
    factory = AutoModelForCausalLMFactory(model=str(tmp_path), skip_loading_weights=True)
    model = factory.build_model("meta")  # no storage: its speed is bench_build_model's business
    assert sum(p.numel() for p in model.parameters()) > 70e9
    assert storage_bytes_off_meta(model) == 0


def test_device_build_with_weights_to_load_is_uninitialised_but_real(llama_dir: Path) -> None:
    model = AutoModelForCausalLMFactory(model=str(llama_dir)).build_model("cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())
    # the buffers were computed by the module constructors on the device
    reference = LlamaForCausalLM(LlamaConfig.from_pretrained(llama_dir))
    torch.testing.assert_close(model.model.rotary_emb.inv_freq, reference.model.rotary_emb.inv_freq, rtol=0, atol=0)


def test_device_build_without_weights_is_initialised(llama_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), skip_loading_weights=True)
    model = factory.build_model("cpu")
    weight = model.model.layers[0].mlp.up_proj.weight
    std = float(weight.detach().std())
    assert 0.005 < std < 0.05  # initializer_range 0.02, not uninitialised memory
    assert torch.equal(model.model.norm.weight, torch.ones_like(model.model.norm.weight))


def test_skip_loading_weights_needs_no_weight_files(tmp_path: Path) -> None:
    tiny_llama_config().save_pretrained(tmp_path)
    model = AutoModelForCausalLMFactory(model=str(tmp_path), skip_loading_weights=True).build_model("meta")
    assert isinstance(model, LlamaForCausalLM)


def test_dtype_auto_follows_config_and_explicit_dtype_wins(tmp_path: Path) -> None:
    tiny_llama_config(dtype="bfloat16").save_pretrained(tmp_path)
    auto = AutoModelForCausalLMFactory(model=str(tmp_path), skip_loading_weights=True).build_model("meta")
    assert auto.model.embed_tokens.weight.dtype == torch.bfloat16
    explicit = AutoModelForCausalLMFactory(model=str(tmp_path), skip_loading_weights=True, dtype="float16")
    assert explicit.build_model("meta").model.embed_tokens.weight.dtype == torch.float16
    legacy = AutoModelForCausalLMFactory(model=str(tmp_path), skip_loading_weights=True, torch_dtype="torch.float32")
    assert legacy.build_model("meta").model.embed_tokens.weight.dtype == torch.float32


def test_dtype_auto_without_config_dtype_takes_the_checkpoint_dtype(tmp_path: Path) -> None:
    config = tiny_llama_config()
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.float16).save_pretrained(tmp_path)
    config_file = tmp_path / "config.json"
    data = json.loads(config_file.read_text())
    del data["dtype"]
    config_file.write_text(json.dumps(data))
    model = AutoModelForCausalLMFactory(model=str(tmp_path)).build_model("meta")
    assert model.model.layers[0].self_attn.q_proj.weight.dtype == torch.float16


@pytest.mark.parametrize("bad", ["float8", "int8", "bf17"])
def test_unknown_dtype_is_a_config_error_at_construction(bad: str) -> None:
    with pytest.raises(ConfigError, match=f"'{bad}' is not a dtype"):
        AutoModelForCausalLMFactory(model="anything", dtype=bad)


def test_dtype_and_torch_dtype_must_agree() -> None:
    with pytest.raises(ConfigError, match="disagree"):
        AutoModelForCausalLMFactory(model="anything", dtype="float16", torch_dtype="bfloat16")


def test_model_kwargs_override_the_config(llama_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), model_kwargs={"num_hidden_layers": 1})
    model = factory.build_model("meta")
    assert len(model.model.layers) == 1
    assert model.config.use_cache is False  # the factory's default for export, kept under user overrides


def test_model_kwargs_can_restore_defaults(llama_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), model_kwargs={"use_cache": True})
    assert factory.build_model("meta").config.use_cache is True


def test_nested_model_kwargs_merge_into_sub_configs(llava_dir: Path) -> None:
    factory = AutoModelForImageTextToTextFactory(
        model=str(llava_dir), model_kwargs={"text_config": {"num_hidden_layers": 1}}
    )
    config = factory.hf_config()
    assert config.text_config.num_hidden_layers == 1
    assert config.text_config.hidden_size == 32  # the other fields of the sub-config are kept
    model = factory.build_model("meta")
    assert isinstance(model, LlavaForConditionalGeneration)
    assert len(model.model.language_model.layers) == 1


def test_the_folder_is_read_once_per_factory(llama_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir))
    first, second = factory.hf_config(), factory.hf_config()
    assert first is not second  # a fresh copy each time: a build cannot change the next one
    first.num_hidden_layers = 99
    assert factory.hf_config().num_hidden_layers == 2


def test_second_architecture_builds(qwen2_dir: Path) -> None:
    model = AutoModelForCausalLMFactory(model=str(qwen2_dir)).build_model("meta")
    assert isinstance(model, Qwen2ForCausalLM)


def test_describe_names_the_factory_and_folder(llama_dir: Path) -> None:
    description = AutoModelForCausalLMFactory(model=str(llama_dir), dtype="bf16").describe()
    assert "AutoModelForCausalLMFactory" in description and str(llama_dir) in description and "bfloat16" in description
