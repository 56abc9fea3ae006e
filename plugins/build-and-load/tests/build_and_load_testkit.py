"""Helpers of the build-and-load plugin's tests: the facts of AutoDeploy's reference page, tiny checkpoints, and a
small real model factory that can only build (no build_and_load_model).

(A uniquely named module imported by the tests; fixtures are in conftest.py.)"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autodeploy import ModelFactory
from autodeploy.testing import write_tiny_hf_checkpoint

# The facts of AutoDeploy's "Factory Stage" reference page that the tests check, kept as JSON here
REFERENCE_FILE = Path(__file__).with_name("autodeploy_reference.json")

_DECODER = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)


def reference() -> dict[str, Any]:
    """The build_and_load_factory_model section of AutoDeploy's reference page."""
    return json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))


def docstring_paragraphs(doc: str | None) -> list[str]:
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", inspect.cleandoc(doc or "")) if part.strip()]


# each config class's own defaults where the shared tiny config sets other ones
_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": dict(tie_word_embeddings=False, pad_token_id=None),
    "qwen2": dict(tie_word_embeddings=False, bos_token_id=None, eos_token_id=None, pad_token_id=None),
}


def save_tiny(folder: Path, architecture: str, *, seed: int, max_shard_size: str | None = None) -> Path:
    """A real checkpoint (random weights and norms, save_pretrained) of a tiny "llama" or "qwen2"."""
    overrides = {**_DEFAULTS[architecture], **_DECODER}
    return write_tiny_hf_checkpoint(
        folder, architecture, seed=seed, max_shard_size=max_shard_size, random_norms=True, **overrides
    )


class BuildOnlyFactory(ModelFactory):
    """A real factory that builds a small torch model but cannot build and load it at once."""

    def _build_model(self, device: str) -> nn.Module:
        with torch.device(device):
            return nn.Sequential(nn.Embedding(16, 8), nn.Linear(8, 16))

    def _load_checkpoint(self, model: nn.Module, device: str) -> None:
        self._random_init(model, device)
