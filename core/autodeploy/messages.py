"""The small pieces every error message is made of, one copy each: an exception on one line, the
first few of a long list, and the closest valid names to a typo."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# how many items a message lists before "and N more"
MAX_LISTED = 8
# difflib's default (0.6) misses common typos of short names; 0.5 still rejects unrelated words
CLOSE_MATCH_CUTOFF = 0.5


def describe_exception(exc: BaseException) -> str:
    """``ExcType: message`` on one line: records and problem lists are read one line per entry,
    and some libraries (pydantic, pluggy) put paragraphs into their messages."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def first_few(items: Iterable[str], limit: int = MAX_LISTED, *, separator: str = ", ", sort: bool = True) -> str:
    """The first `limit` items (sorted unless `sort` is false), then how many more there are."""
    ordered = sorted(items) if sort else list(items)
    shown = separator.join(ordered[:limit])
    return f"{shown} and {len(ordered) - limit} more" if len(ordered) > limit else shown


def closest_names(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Up to `n` candidates most similar to `word`, best first (none when nothing is close)."""
    return difflib.get_close_matches(str(word), sorted({str(c) for c in candidates}), n=n, cutoff=CLOSE_MATCH_CUTOFF)
