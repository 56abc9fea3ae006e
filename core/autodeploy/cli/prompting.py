"""From what the user typed to token ids, and back: the prompt side of ``run``.

An instruct model answers a question only when it is framed the way it was trained, so a prompt
goes through the tokenizer's chat template (``add_generation_prompt=True``) whenever the
tokenizer has one; ``--raw-prompt`` sends the text as it is, and ``--input-ids`` skips the
tokenizer altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..errors import AutodeployError

if TYPE_CHECKING:
    from ..factory import ModelFactory

CHAT_TEMPLATE = "chat template"
RAW_TEXT = "raw text"
GIVEN_IDS = "--input-ids"


@dataclass(frozen=True)
class EncodedPrompt:
    """The prompt's token ids and how they were made (`CHAT_TEMPLATE`, `RAW_TEXT`, `GIVEN_IDS`)."""

    ids: list[int]
    how: str
    text: Optional[str] = None


def parse_input_ids(text: str) -> list[int]:
    """``"1,2,3"`` (or space separated) -> [1, 2, 3]; anything else is a clear error."""
    parts = [part for part in text.replace(",", " ").split() if part]
    if not parts:
        raise AutodeployError("--input-ids: expected comma-separated token ids such as 1,2,3, got nothing")
    ids = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise AutodeployError(f"--input-ids: {part!r} is not an integer token id (expected e.g. 1,2,3)") from None
        if value < 0:
            raise AutodeployError(f"--input-ids: token ids are >= 0, got {value}")
        ids.append(value)
    return ids


def encode_prompt(tokenizer: Any, prompt: str, *, raw: bool) -> EncodedPrompt:
    """Token ids of `prompt`: through the chat template unless `raw` or the tokenizer has none."""
    if not raw and getattr(tokenizer, "chat_template", None):
        framed = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        # the template already wrote the special tokens (BOS, role markers) as text
        ids = tokenizer(framed, add_special_tokens=False)["input_ids"]
        how = CHAT_TEMPLATE
    else:
        ids = tokenizer(prompt)["input_ids"]
        how = RAW_TEXT
    ids = [int(token) for token in ids]
    if not ids:
        raise AutodeployError("the prompt is empty after tokenization; pass a non-empty --prompt")
    return EncodedPrompt(ids=ids, how=how, text=prompt)


def end_of_sequence_ids(factory: ModelFactory, tokenizer: Any) -> list[int]:
    """Every id that ends an answer: the factory's (the checkpoint's generation settings) and the tokenizer's."""
    ids = list(factory.end_of_sequence_ids())
    tokenizer_eos = getattr(tokenizer, "eos_token_id", None) if tokenizer is not None else None
    if isinstance(tokenizer_eos, int):
        ids.append(tokenizer_eos)
    return sorted(set(ids))


def decode(tokenizer: Any, ids: list[int]) -> str:
    """The text of generated ids, without special tokens (the EOS that ended the answer)."""
    return tokenizer.decode(ids, skip_special_tokens=True)
