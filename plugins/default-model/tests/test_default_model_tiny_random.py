"""``tiny-random``: resolved through the installed plugin into a real, loadable tiny checkpoint."""

import json

import pytest
import torch
from autodeploy_default_model.tiny_random import tiny_random_folder
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from autodeploy import PluginHost


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-plugin-default-model"})


def test_installed_plugin_resolves_tiny_random_into_a_checkpoint(host, tmp_path):
    folder = host.hook.autodeploy_resolve_model(name="tiny-random", cache_dir=str(tmp_path))
    assert folder is not None and folder.startswith(str(tmp_path))
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = json.loads((tmp_path / "models" / "tiny-random-llama-v1" / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 2
    assert model.config.vocab_size == len(tokenizer)
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id

    ids = tokenizer("héllo, wörld")["input_ids"]
    assert tokenizer.decode(ids) == "héllo, wörld"  # byte level: any text round-trips
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits
    assert logits.shape == (1, len(ids), len(tokenizer))


def test_chat_template_frames_the_prompt(host, tmp_path):
    folder = host.hook.autodeploy_resolve_model(name="TINY-RANDOM", cache_dir=str(tmp_path))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.eos_token_id in ids


def test_weights_are_seeded_and_written_once(tmp_path):
    first = tiny_random_folder(tmp_path / "a")
    second = tiny_random_folder(tmp_path / "b")
    weights_a = load_file(first / "model.safetensors")
    weights_b = load_file(second / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[name], weights_b[name]) for name in weights_a)
    assert weights_a["model.embed_tokens.weight"].std() > 0  # random, not zeros

    mtime = (first / "model.safetensors").stat().st_mtime_ns
    assert tiny_random_folder(tmp_path / "a") == first
    assert (first / "model.safetensors").stat().st_mtime_ns == mtime


def test_writing_it_leaves_the_global_rng_alone(tmp_path):
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    tiny_random_folder(tmp_path)
    assert torch.equal(torch.rand(4), expected)


def test_names_of_other_models_are_left_to_others(host, tmp_path):
    assert host.hook.autodeploy_resolve_model(name="some-other-model", cache_dir=str(tmp_path)) is None
    assert list(tmp_path.iterdir()) == []
