"""Incremental detokenization with stop strings: the answer's text as its tokens come.

Each new token re-decodes the answer's ids (a token's text can depend on its neighbours, e.g.
a leading space, or a character split over several byte tokens), and only the settled part is
released: a trailing replacement character (an incomplete UTF-8 sequence) and, while stop
strings are set, the last ``len(longest stop) - 1`` characters (they could still begin a stop
string) are held back until the answer ends. A stop string ends the answer and is cut from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

INCOMPLETE = "\ufffd"


class IncrementalText:
    """The text of a growing list of token ids, released in settled deltas."""

    def __init__(self, tokenizer: Any, stop: Sequence[str] = ()) -> None:
        self._tokenizer = tokenizer
        self._stop = tuple(stop)
        self._hold = max((len(s) for s in self._stop), default=1) - 1
        self._ids: list[int] = []
        self._text = ""
        self._released = 0
        self.stopped_by: Optional[str] = None

    @property
    def text(self) -> str:
        """The text released so far."""
        return self._text[: self._released]

    def add(self, token_id: int) -> str:
        """Add a token; return the newly released text. Sets `stopped_by` when a stop string appears."""
        if self._tokenizer is None:
            return ""
        self._ids.append(int(token_id))
        self._text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        cut = self._find_stop()
        if cut is not None:
            self._text = self._text[:cut]
            return self._release(len(self._text))
        settled = len(self._text.rstrip(INCOMPLETE)) if self._text.endswith(INCOMPLETE) else len(self._text)
        return self._release(max(self._released, settled - self._hold))

    def finish(self) -> str:
        """The answer ended: release what was held back."""
        return self._release(len(self._text))

    def _find_stop(self) -> Optional[int]:
        if not self._stop:
            return None
        start = max(0, self._released - self._hold)  # a stop string may span released and new text
        found = [(index, s) for s in self._stop if (index := self._text.find(s, start)) >= 0]
        if not found:
            return None
        index, string = min(found)
        self.stopped_by = string
        return index

    def _release(self, upto: int) -> str:
        upto = min(upto, len(self._text))
        if upto <= self._released:
            return ""
        delta = self._text[self._released : upto]
        self._released = upto
        return delta
