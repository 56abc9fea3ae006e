"""Helpers of the build-model plugin's tests: the facts of AutoDeploy's reference page, tiny and
Llama-3-70B-sized checkpoint folders. (A uniquely named module imported by the tests; fixtures are in conftest.py.)"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import torch

from autodeploy.testing import tiny_hf_config, write_tiny_hf_checkpoint

# The facts of AutoDeploy's "Factory Stage" reference page that the tests check, kept as JSON here
REFERENCE_FILE = Path(__file__).with_name("autodeploy_reference.json")

LLAMA_3_70B = dict(
    hidden_size=8192,
    num_hidden_layers=80,
    vocab_size=128256,
    intermediate_size=28672,
    num_attention_heads=64,
    num_key_value_heads=8,
)

TINY_LLAMA = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    max_position_embeddings=64,
)


def reference() -> dict[str, Any]:
    """The build_model section of AutoDeploy's reference page (key, names, docstrings, schema, fields)."""
    return json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))


def docstring_paragraphs(doc: str | None) -> list[str]:
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", inspect.cleandoc(doc or "")) if part.strip()]


def save_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """A real ``save_pretrained`` checkpoint of the tiny Llama (untied, no pad id, as LlamaConfig's defaults)."""
    return write_tiny_hf_checkpoint(folder, seed=seed, tie_word_embeddings=False, pad_token_id=None, **TINY_LLAMA)


def save_70b_config(folder: Path) -> Path:
    """A folder with only the config of a Llama-3-70B-sized model (no weights: build on meta only)."""
    defaults = dict(tie_word_embeddings=False, pad_token_id=None, max_position_embeddings=2048)
    tiny_hf_config("llama", **defaults, **LLAMA_3_70B).save_pretrained(folder)
    return folder


def storage_bytes_off_meta(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()) if not t.is_meta)
