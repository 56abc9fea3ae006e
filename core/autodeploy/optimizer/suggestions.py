"""Closest-name suggestions for error and warning messages.

A typo in a config (``devce``, ``buld_model``) is the most common mistake a user makes; naming
the closest valid name turns a lookup in the docs into a one-character fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Optional

# difflib's default (0.6) misses common typos of short names; 0.5 still rejects unrelated words
_CUTOFF = 0.5
_MAX_LISTED = 12


def closest_name(word: str, candidates: Iterable[str]) -> Optional[str]:
    """The candidate most similar to `word`, or None when nothing is close."""
    matches = difflib.get_close_matches(str(word), sorted(set(candidates)), n=1, cutoff=_CUTOFF)
    return matches[0] if matches else None


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """A message tail: ``did you mean 'x'?``, else the valid names (a few), else ``none exist``."""
    names = sorted({str(candidate) for candidate in candidates})
    best = closest_name(word, names)
    if best is not None:
        return f"did you mean {best!r}?"
    if not names:
        return "there are none"
    listed = ", ".join(names[:_MAX_LISTED])
    more = f", ... ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else ""
    return f"valid names: {listed}{more}"
