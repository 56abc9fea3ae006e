"""Helpers of the load-weights tests: tiny Llama checkpoints written with ``save_pretrained``, a
small safetensors-reading model factory, and a meta-built model exported to a GraphModule.

(A uniquely named module, imported by the tests; fixtures are in conftest.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

from autodeploy import ModelFactory
from autodeploy.testing import tiny_hf_config, write_tiny_hf_checkpoint

# LlamaConfig's own token ids (no pad id) on the tiny sizes these tests were written for (2 layers,
# 4 heads, 2 key/value heads: the shared tiny config's)
TINY_LLAMA: dict[str, Any] = dict(
    vocab_size=96,
    hidden_size=32,
    intermediate_size=64,
    max_position_embeddings=64,
    pad_token_id=None,
    tie_word_embeddings=False,
)


def tiny_llama_config(tie_word_embeddings: bool = False, **overrides: Any) -> LlamaConfig:
    return tiny_hf_config("llama", **{**TINY_LLAMA, "tie_word_embeddings": tie_word_embeddings, **overrides})


def save_tiny_llama(folder: Path, max_shard_size: str | int | None = None, seed: int = 0, **overrides: Any) -> Path:
    """A real checkpoint: random weights saved by ``save_pretrained`` (sharded when small max_shard_size)."""
    return write_tiny_hf_checkpoint(folder, seed=seed, max_shard_size=max_shard_size, **{**TINY_LLAMA, **overrides})


class SafetensorsLlamaFactory(ModelFactory):
    """Reads a ``save_pretrained`` folder: config, safetensors shards in index order, rotary buffers."""

    def _build_model(self, device: str) -> nn.Module:
        config = AutoConfig.from_pretrained(self.model)
        with torch.device(device):
            return AutoModelForCausalLM.from_config(config, dtype=self.model_kwargs.get("dtype"))

    def _load_checkpoint(self, model: nn.Module, device: str) -> None:
        for _, tensors in self.iter_checkpoint_shards():
            model.load_state_dict(tensors, strict=False, assign=True)

    def checkpoint_files(self) -> list[Path]:
        folder = Path(self.model)
        index = folder / "model.safetensors.index.json"
        if index.exists():
            weight_map = json.loads(index.read_text())["weight_map"]
            return [folder / name for name in dict.fromkeys(weight_map.values())]
        return sorted(folder.glob("*.safetensors"))

    def iter_checkpoint_shards(self) -> Iterator[tuple[str, Mapping[str, torch.Tensor]]]:
        for path in self.checkpoint_files():
            yield path.name, load_file(path)

    def init_buffers(self, device: str) -> dict[str, torch.Tensor]:
        with torch.device(device):
            rotary = LlamaRotaryEmbedding(AutoConfig.from_pretrained(self.model))
        return {f"model.rotary_emb.{name}": buffer for name, buffer in rotary.named_buffers()}


class _LogitsOnly(nn.Module):
    """Export wrapper: the model's children under their own names, ``forward(input_ids) -> logits``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        object.__setattr__(self, "_wrapped", model)  # not registered: parameter names stay the model's

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self._wrapped(input_ids=input_ids, use_cache=False).logits


def export_on_meta(model: nn.Module) -> torch.fx.GraphModule:
    """Export a meta-built causal LM (dynamic batch and sequence) to a GraphModule with its names."""
    example = torch.ones((2, 8), dtype=torch.long, device="meta")
    dims = {"input_ids": {0: torch.export.Dim("batch", min=1, max=8), 1: torch.export.Dim("seq", min=1, max=64)}}
    program = torch.export.export(
        _LogitsOnly(model.eval()), (), {"input_ids": example}, dynamic_shapes=dims, strict=False
    )
    return program.module()


class Container(nn.Module):
    """What the optimizer hands to weight_load transforms: the model at ``factory_model``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.factory_model = model

    def forward(self, *args, **kwargs):
        return self.factory_model(*args, **kwargs)


def logits_of(module: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = module(input_ids=input_ids)
    return out if isinstance(out, torch.Tensor) else out.logits
