"""What the runtime hands back: a step's per-request delta, and a finished completion.

Finish reasons (OpenAI's words): ``stop`` (an end-of-sequence id, a stop token or a stop
string), ``length`` (``max_tokens`` or ``max_seq_len`` reached), ``abort`` (the caller aborted
it), ``error`` (refused, or the model failed on its step; ``error`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

STOP = "stop"
LENGTH = "length"
ABORT = "abort"
ERROR = "error"
FINISH_REASONS = (STOP, LENGTH, ABORT, ERROR)


@dataclass(frozen=True)
class RequestOutput:
    """What one `Engine.step` produced for one request: the new part, and everything so far.

    ``new_token_ids`` / ``new_text`` are the delta since the request's previous output (text may
    lag its tokens: an incomplete character, or text that could still become a stop string, is
    held back until it is settled); ``token_ids`` / ``text`` are the whole answer so far.
    """

    request_id: str
    new_token_ids: tuple[int, ...]
    new_text: str
    token_ids: tuple[int, ...]
    text: str
    num_prompt_tokens: int
    finished: bool = False
    finish_reason: Optional[str] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class CompletionOutput:
    """A finished answer to one prompt (what `LLM.generate` returns, one per prompt)."""

    text: str
    token_ids: tuple[int, ...]
    finish_reason: str
    prompt_token_ids: tuple[int, ...] = ()
    error: Optional[str] = None
    request_id: Optional[str] = None

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)
