"""One request's state inside the engine: its ids, how many of them the cache holds, its slot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from .outputs import RequestOutput
from .sampling_params import SamplingParams
from .text import IncrementalText

if TYPE_CHECKING:
    import torch


@dataclass(eq=False)
class Request:
    """A prompt being answered.

    ``num_computed`` counts the leading ids of ``prompt_ids + output_ids`` whose keys and values
    are in the cache (for an uncached module: that were run); the ids after it are fed next.
    When every id is computed, the step's logits give the next token.
    """

    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    max_new_tokens: int
    text: IncrementalText
    generator: Optional[torch.Generator] = None
    output_ids: list[int] = field(default_factory=list)
    num_computed: int = 0
    slot: Optional[int] = None
    finish_reason: Optional[str] = None
    error: Optional[str] = None
    _sent_ids: int = 0
    _pending_text: str = ""

    @property
    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.output_ids

    @property
    def num_ids(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def num_pending(self) -> int:
        """Ids not yet fed to the model (the prompt's rest at prefill, 1 at decode)."""
        return self.num_ids - self.num_computed

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def cache_slot(self) -> int:
        """The slot of a running request (a scheduler bug if it has none)."""
        if self.slot is None:
            raise RuntimeError(f"request {self.request_id!r} runs without a cache slot")
        return self.slot

    def pending_ids(self, count: int) -> list[int]:
        start = self.num_computed
        ids = self.prompt_ids[start : start + count]
        if len(ids) < count:
            offset = max(0, start - len(self.prompt_ids))
            ids += self.output_ids[offset : offset + count - len(ids)]
        return ids

    def finish(self, reason: str, error: Optional[str] = None) -> None:
        if self.finish_reason is None:
            self.finish_reason = reason
            self.error = error
            self._pending_text += self.text.finish()

    def add_text(self, delta: str) -> None:
        self._pending_text += delta

    def take_output(self) -> RequestOutput:
        """The delta since the last output (tokens and text), and the whole answer so far."""
        new_ids = tuple(self.output_ids[self._sent_ids :])
        self._sent_ids = len(self.output_ids)
        new_text, self._pending_text = self._pending_text, ""
        return RequestOutput(
            request_id=self.request_id,
            new_token_ids=new_ids,
            new_text=new_text,
            token_ids=tuple(self.output_ids),
            text=self.text.text,
            num_prompt_tokens=len(self.prompt_ids),
            finished=self.finished,
            finish_reason=self.finish_reason,
            error=self.error,
        )

    def describe(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "prompt_tokens": len(self.prompt_ids), "slot": self.slot}
