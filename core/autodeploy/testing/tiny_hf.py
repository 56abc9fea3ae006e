"""Tiny random transformers models of the architectures autodeploy's matchers and caches must
handle, for tests: Llama (SmolLM2's), Qwen2, Mistral (sliding window), Gemma, Phi-3 (sliding
window) and GPT-2. Each has 2 layers, grouped-query attention where the architecture has it
(GPT-2 has not), a vocabulary of 128 and room for 256 positions; the sliding windows (16) are
shorter than the sequences tests use, so they matter.

Imports torch and transformers: import it only where a model is needed.
"""

from __future__ import annotations

from typing import Any

import torch
import transformers

TINY_ARCHITECTURES = ("llama", "qwen2", "mistral", "gemma", "phi3", "gpt2")
NUM_LAYERS = 2
SLIDING_WINDOW = 16


def tiny_hf_config(arch: str) -> Any:
    """The config of a tiny model of `arch` (one of `TINY_ARCHITECTURES`)."""
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
    configs = {
        "llama": lambda: transformers.LlamaConfig(**common, tie_word_embeddings=True),
        "qwen2": lambda: transformers.Qwen2Config(**common),
        "mistral": lambda: transformers.MistralConfig(**common, sliding_window=SLIDING_WINDOW),
        "gemma": lambda: transformers.GemmaConfig(**common, head_dim=16),
        "phi3": lambda: transformers.Phi3Config(**common, sliding_window=SLIDING_WINDOW),
        "gpt2": lambda: transformers.GPT2Config(
            vocab_size=128,
            n_embd=64,
            n_layer=NUM_LAYERS,
            n_head=4,
            n_positions=256,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        ),
    }
    if arch not in configs:
        raise ValueError(f"unknown tiny architecture {arch!r}; known: {', '.join(TINY_ARCHITECTURES)}")
    return configs[arch]()


def tiny_hf_model(arch: str, attn_implementation: str = "sdpa", seed: int = 0) -> Any:
    """A tiny `arch` causal LM with seeded random weights, fp32, in eval mode."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(
            tiny_hf_config(arch), attn_implementation=attn_implementation, dtype=torch.float32
        )
    finally:
        torch.random.set_rng_state(state)
    return model.eval()
