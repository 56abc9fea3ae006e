"""Helpers of the build-model plugin's tests: the reference documentation, tiny and Llama-3-70B-sized
checkpoint folders. (A uniquely named module imported by the tests; fixtures are in conftest.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# ../shared/reference from the project's root (the repository is plugins/build-model/tests/../../..)
REFERENCE_FILE = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "factory-stage.txt"

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
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)


def reference_text() -> str:
    assert REFERENCE_FILE.is_file(), f"the reference documentation is expected at {REFERENCE_FILE}"
    return REFERENCE_FILE.read_text(encoding="utf-8")


def reference_json_schema(text: str) -> dict[str, Any]:
    """The first JSON block after "Show JSON schema" (the build_model section's)."""
    start = text.index("Show JSON schema")
    block_start = text.index("{", start)
    schema, _ = json.JSONDecoder().raw_decode(text[block_start:])
    return schema


def reference_paragraphs(text: str, after: str, before: str) -> list[str]:
    """The paragraphs between the first `after` and the next `before`, whitespace-normalised."""
    start = text.index(after) + len(after)
    end = text.index(before, start)
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", text[start:end]) if part.strip()]


def docstring_paragraphs(doc: str | None) -> list[str]:
    import inspect

    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", inspect.cleandoc(doc or "")) if part.strip()]


def save_tiny_llama(folder: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    LlamaForCausalLM(LlamaConfig(**TINY_LLAMA)).save_pretrained(folder)
    return folder


def save_70b_config(folder: Path) -> Path:
    """A folder with only the config of a Llama-3-70B-sized model (no weights: build on meta only)."""
    LlamaConfig(**LLAMA_3_70B).save_pretrained(folder)
    return folder


def storage_bytes_off_meta(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()) if not t.is_meta)
