"""Helpers of the Hugging Face plugin's tests: tiny real checkpoints saved with ``save_pretrained``,
eager references through ``from_pretrained``, and a folder fingerprint to prove folders are only read.

(A uniquely named module imported by the tests; fixtures are in conftest.py.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    GemmaConfig,
    GPT2Config,
    LlamaConfig,
    LlavaConfig,
    Qwen2Config,
)

from autodeploy.testing import tiny_hf_config

VOCAB = 256

_DECODER = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)


def tiny_llama_config(**overrides: Any) -> LlamaConfig:
    """The shared tiny Llama config with these tests' sizes and LlamaConfig's own defaults (untied, no pad id)."""
    return tiny_hf_config("llama", **{**_DECODER, "tie_word_embeddings": False, "pad_token_id": None, **overrides})


def tiny_qwen2_config(**overrides: Any) -> Qwen2Config:
    return Qwen2Config(**{**_DECODER, **overrides})


def tiny_gemma_config(**overrides: Any) -> GemmaConfig:
    return GemmaConfig(**{**_DECODER, "head_dim": 8, **overrides})


def tiny_gpt2_config(**overrides: Any) -> GPT2Config:
    values = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=0)
    return GPT2Config(**{**values, **overrides})


def tiny_llava_config() -> LlavaConfig:
    vision = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, image_size=28, patch_size=14
    )
    return LlavaConfig(
        text_config={**_DECODER, "model_type": "llama"},
        vision_config={**vision, "model_type": "clip_vision_model"},
        image_token_id=VOCAB - 1,
        vision_feature_layer=-1,
    )


def save_checkpoint(
    folder: Path,
    config: Any,
    *,
    auto_class: Any = AutoModelForCausalLM,
    seed: int = 0,
    **save_kwargs: Any,
) -> Path:
    """A real checkpoint of `config` with seeded random weights, written by ``save_pretrained``.

    ``max_shard_size="20KB"`` gives a sharded folder (``model.safetensors.index.json``).
    """
    torch.manual_seed(seed)
    model = auto_class.from_config(config)
    # random (not constant) norm weights, so that a norm loaded wrongly shows in the logits
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
    model.save_pretrained(folder, **save_kwargs)
    return folder


def save_bin_checkpoint(folder: Path, config: Any, *, seed: int = 0, shards: int = 1) -> Path:
    """A ``pytorch_model.bin`` checkpoint (as transformers 4 wrote them): config + torch.save'd state dict(s).

    transformers 5 only writes safetensors, so the pickles are written with torch.save directly;
    with ``shards > 1`` the state dict is split into files listed by ``pytorch_model.bin.index.json``.
    """
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    state_dict = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    if shards == 1:
        torch.save(state_dict, folder / "pytorch_model.bin")
        return folder
    names = sorted(state_dict)
    weight_map = {}
    for index in range(shards):
        file_name = f"pytorch_model-{index + 1:05d}-of-{shards:05d}.bin"
        part = {name: state_dict[name] for name in names[index::shards]}
        torch.save(part, folder / file_name)
        weight_map.update(dict.fromkeys(part, file_name))
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def reference_model(folder: Path, *, auto_class: Any = AutoModelForCausalLM, **kwargs: Any) -> nn.Module:
    """What transformers itself loads from `folder` (the eager reference)."""
    return auto_class.from_pretrained(str(folder), local_files_only=True, **kwargs).eval()


def logits(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=input_ids).logits


def folder_fingerprint(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file's size, modification time and content hash: equal before and after = only read."""
    fingerprint = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            fingerprint[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns, digest)
    return fingerprint


def storage_bytes_off_meta(model: nn.Module) -> int:
    """Bytes of parameter and buffer storage that is not on the meta device."""
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()) if not t.is_meta)
