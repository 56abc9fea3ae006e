"""Tiny random transformers models of the architectures autodeploy's matchers and caches must
handle, for tests: Llama (SmolLM2's), Qwen2, Mistral (sliding window), Gemma, Phi-3 (sliding
window) and GPT-2. Each has 2 layers, grouped-query attention where the architecture has it
(GPT-2 has not), a vocabulary of 128 and room for 256 positions; the sliding windows (16) are
shorter than the sequences tests use, so they matter.

Imports torch and transformers: import it only where a model is needed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional, Union

import torch
import transformers

from ..atomic import atomic_write_bytes

TINY_ARCHITECTURES = ("llama", "qwen2", "mistral", "gemma", "phi3", "gpt2")
NUM_LAYERS = 2
SLIDING_WINDOW = 16


def tiny_hf_config(arch: str, **overrides: Any) -> Any:
    """The config of a tiny model of `arch` (one of `TINY_ARCHITECTURES`).

    `overrides` are passed to the config class on top of the tiny sizes (``hidden_size=32``,
    ``tie_word_embeddings=False``, ``eos_token_id=None``), so derived fields such as the head
    size follow them; tests that depend on particular sizes or token ids say so here.
    """
    common: dict[str, Any] = dict(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    gpt2: dict[str, Any] = dict(
        vocab_size=128,
        n_embd=64,
        n_layer=NUM_LAYERS,
        n_head=4,
        n_positions=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    window = dict(sliding_window=SLIDING_WINDOW)
    configs: dict[str, tuple[Any, dict[str, Any]]] = {
        "llama": (transformers.LlamaConfig, {**common, "tie_word_embeddings": True}),
        "qwen2": (transformers.Qwen2Config, common),
        "mistral": (transformers.MistralConfig, {**common, **window}),
        "gemma": (transformers.GemmaConfig, {**common, "head_dim": 16}),
        "phi3": (transformers.Phi3Config, {**common, **window}),
        "gpt2": (transformers.GPT2Config, gpt2),
    }
    if arch not in configs:
        raise ValueError(f"unknown tiny architecture {arch!r}; known: {', '.join(TINY_ARCHITECTURES)}")
    config_class, values = configs[arch]
    return config_class(**{**values, **overrides})


def tiny_hf_model(
    arch: str,
    attn_implementation: str = "sdpa",
    seed: int = 0,
    *,
    dtype: torch.dtype = torch.float32,
    **overrides: Any,
) -> Any:
    """A tiny `arch` causal LM (config `overrides` applied) with seeded random weights, in eval mode.

    The weights come from `seed` alone: the global RNG is restored afterwards, so building a
    model does not change what later random draws in the test give.
    """
    config = tiny_hf_config(arch, **overrides)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(
            config, attn_implementation=attn_implementation, dtype=dtype
        )
    finally:
        torch.random.set_rng_state(state)
    return model.eval()


def write_tiny_hf_checkpoint(
    folder: Union[str, Path],
    arch: str = "llama",
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    max_shard_size: Optional[Union[int, str]] = None,
    random_norms: bool = False,
    **overrides: Any,
) -> Path:
    """Write a real Hugging Face checkpoint folder of a tiny `arch` model and return the folder.

    The model is `tiny_hf_model(arch, seed=seed, dtype=dtype, **overrides)`, saved by
    ``save_pretrained`` (config JSON, generation config, safetensors), so loaders are tested
    against exactly what transformers writes. A small `max_shard_size` (``"20KB"``) gives a
    sharded folder with ``model.safetensors.index.json``. With `random_norms` the norm weights
    are drawn from U(0.5, 1.5) (seeded) instead of all ones, so that a loader which drops or
    swaps a norm weight changes the logits. No tokenizer is written.
    """
    folder = Path(folder)
    model = tiny_hf_model(arch, seed=seed, dtype=dtype, **overrides)
    if random_norms:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "norm" in name:
                    param.copy_(torch.rand(param.shape, generator=generator) + 0.5)
    save_kwargs: dict[str, Any] = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    # transformers writes into a private staging folder; each file then replaces its namesake in
    # `folder` atomically, like every file autodeploy writes (an interrupted call leaves no half file)
    with tempfile.TemporaryDirectory(prefix="tiny-hf-") as staging:
        model.save_pretrained(staging, **save_kwargs)
        folder.mkdir(parents=True, exist_ok=True)
        for written in sorted(Path(staging).iterdir()):
            atomic_write_bytes(folder / written.name, written.read_bytes())
    return folder
