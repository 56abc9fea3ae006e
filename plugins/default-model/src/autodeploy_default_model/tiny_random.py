"""``tiny-random``: a seeded random tiny Llama with a byte-level tokenizer, for quick smoke runs.

It answers nothing sensible, but it goes through every path the real model does (chat template,
tokenizer, safetensors checkpoint, generation config) in a fraction of a second and needs no
downloaded file: its tokenizer maps the 256 bytes to ids and adds ChatML's special tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .cache_folder import materialize_folder

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# Bump when what `write_tiny_random_checkpoint` writes changes (a new cache folder is made).
TINY_RANDOM_FORMAT = 1
TINY_RANDOM_SEED = 0
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# ChatML, the format SmolLM2 uses, so that the chat-template path is exercised the same way.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_random_folder(cache_dir: Path) -> Path:
    """The tiny random Llama's folder in `cache_dir`, written on first use."""
    destination = Path(cache_dir) / "models" / f"tiny-random-llama-v{TINY_RANDOM_FORMAT}"
    description = {"model": "tiny-random-llama", "seed": TINY_RANDOM_SEED, "format": TINY_RANDOM_FORMAT}
    return materialize_folder(destination, write_tiny_random_checkpoint, description=description)


def make_byte_tokenizer() -> PreTrainedTokenizerBase:
    """A byte-level tokenizer (256 byte tokens, no merges, ChatML specials) made offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    backend = Tokenizer(models.BPE(vocab={symbol: index for index, symbol in enumerate(alphabet)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=SPECIAL_TOKENS[0],
        bos_token=SPECIAL_TOKENS[1],
        eos_token=SPECIAL_TOKENS[2],
        pad_token=SPECIAL_TOKENS[2],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def write_tiny_random_checkpoint(out_dir: Path, seed: int = TINY_RANDOM_SEED) -> None:
    """Save the tiny Llama (weights drawn from `seed`), its tokenizer and generation config."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = make_byte_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )
    # A private RNG stream: the caller's global torch RNG state is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig.from_model_config(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
