"""Helpers of the runtime tests (fixtures in conftest.py): a tiny random Llama checkpoint with a real (word-level)
tokenizer, its pipelines built once per session, and Hugging Face's greedy answers to compare.

The pipelines are the presets as they are: when the presets include the KV cache, these tests
run the cached path; before, the uncached one (full re-runs). `cached` says which.
"""

from __future__ import annotations

from pathlib import Path

VOCAB = 128
MAX_SEQ_LEN = 128
MAX_BATCH_SIZE = 4


def save_tiny_llama_with_tokenizer(folder: Path) -> Path:
    """A seeded tiny Llama (fp32, no EOS so answers run to max_tokens) and a word-level tokenizer
    whose token i is the word ``w{i}``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from autodeploy.testing import write_tiny_hf_checkpoint

    write_tiny_hf_checkpoint(
        folder,
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        max_position_embeddings=256,
        initializer_range=0.5,  # spread logits: no near-ties for argmax to flip on
        eos_token_id=None,
        bos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=False,
    )
    words = Tokenizer(models.WordLevel({f"w{i}": i for i in range(VOCAB)}, unk_token="w0"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=words, unk_token="w0").save_pretrained(folder)
    return folder


def build_llm(checkpoint: Path, mode: str):
    from autodeploy.runtime import LLM

    return LLM(str(checkpoint), mode=mode, max_seq_len=MAX_SEQ_LEN, max_batch_size=MAX_BATCH_SIZE, dtype="float32")


def hf_greedy(model, prompt_ids: list[int], new_tokens: int) -> list[int]:
    """Hugging Face ``generate(do_sample=False)``: exactly `new_tokens` new ids."""
    import torch

    with torch.no_grad():
        out = model.generate(
            torch.tensor([prompt_ids]),
            do_sample=False,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            pad_token_id=0,
            eos_token_id=None,
        )
    return out[0, len(prompt_ids) :].tolist()


def prompt_of(length: int, seed: int) -> list[int]:
    """A reproducible prompt of `length` ids."""
    import random

    rng = random.Random(seed)
    return [rng.randrange(1, VOCAB) for _ in range(length)]
