"""`SamplingParams`: how one request picks its tokens and when it stops.

Plain Python, checked when made: a server hands user input straight into it, so every bad value
gets an error naming the field, the value and what is allowed, before any model work.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Union

DEFAULT_MAX_TOKENS = 16


class SamplingParamsError(ValueError):
    """A sampling parameter outside what it allows (names the field and the value)."""


@dataclass(frozen=True)
class SamplingParams:
    """Per-request sampling settings (AutoDeploy / vLLM names).

    - ``max_tokens``: the most new tokens (None: up to ``max_seq_len``); finish reason "length".
    - ``temperature``: 0 is greedy (argmax); above 0 samples from ``softmax(logits / temperature)``.
    - ``top_k``: keep the k most likely tokens (None or 0: all); ``top_k=1`` is greedy.
    - ``top_p``: keep the smallest set of most likely tokens whose probability reaches top_p.
    - ``seed``: seeds this request's own generator, so its samples do not depend on the batch.
    - ``stop_token_ids`` / ``stop``: token ids / strings that end the answer (finish reason "stop");
      a stop string is cut from the text, found on the decoded text (needs a tokenizer).
    - ``ignore_eos``: keep going past the model's end-of-sequence ids.
    """

    max_tokens: Optional[int] = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    top_k: Optional[int] = None
    top_p: float = 1.0
    seed: Optional[int] = None
    stop_token_ids: tuple[int, ...] = field(default=())
    stop: tuple[str, ...] = field(default=())
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        # accept lists / a single string, keep tuples (hashable, immutable)
        object.__setattr__(self, "stop_token_ids", _as_int_tuple("stop_token_ids", self.stop_token_ids))
        object.__setattr__(self, "stop", _as_str_tuple(self.stop))
        if self.max_tokens is not None and (not _is_int(self.max_tokens) or self.max_tokens < 1):
            _fail("max_tokens", self.max_tokens, "a whole number >= 1, or None for up to max_seq_len")
        if not _is_number(self.temperature) or not math.isfinite(self.temperature) or self.temperature < 0:
            _fail("temperature", self.temperature, "a finite number >= 0 (0 is greedy)")
        if self.top_k is not None and (not _is_int(self.top_k) or self.top_k < 0):
            _fail("top_k", self.top_k, "a whole number >= 1 (or None / 0 for no limit)")
        if not _is_number(self.top_p) or not 0 < self.top_p <= 1:
            _fail("top_p", self.top_p, "a number in (0, 1]")
        if self.seed is not None and not _is_int(self.seed):
            _fail("seed", self.seed, "a whole number or None")
        if not isinstance(self.ignore_eos, bool):
            _fail("ignore_eos", self.ignore_eos, "true or false")

    @property
    def greedy(self) -> bool:
        """Whether the next token is the argmax (temperature 0, or top_k 1)."""
        return self.temperature == 0 or self.top_k == 1

    def with_updates(self, **changes: Any) -> SamplingParams:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)


def _fail(name: str, value: Any, expected: str) -> None:
    raise SamplingParamsError(f"SamplingParams.{name}: expected {expected}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_int_tuple(name: str, values: Union[int, Iterable[int], None]) -> tuple[int, ...]:
    if values is None:
        return ()
    items: tuple[Any, ...] = (values,) if isinstance(values, int) else tuple(values)
    for item in items:
        if not _is_int(item) or item < 0:
            _fail(name, values, "token ids (whole numbers >= 0)")
    return tuple(int(item) for item in items)


def _as_str_tuple(values: Union[str, Iterable[str], None]) -> tuple[str, ...]:
    if values is None:
        return ()
    items = (values,) if isinstance(values, str) else tuple(values)
    for item in items:
        if not isinstance(item, str) or not item:
            _fail("stop", values, "non-empty strings")
    return items
