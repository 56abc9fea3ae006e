"""Closest-name suggestions for error and warning messages.

A typo in a config (``devce``, ``buld_model``) is the most common mistake a user makes; naming
the closest valid name turns a lookup in the docs into a one-character fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Optional

from ..messages import closest_names, first_few

# a name this similar to a valid one (one or two letters off) is taken for a typo of it, not for
# a different setting (`devise` -> `device` is 0.83; `checkpoint_device` -> `device` only 0.52)
_TYPO_CUTOFF = 0.8
_MAX_LISTED = 12


def closest_name(word: str, candidates: Iterable[str]) -> Optional[str]:
    """The candidate most similar to `word`, or None when nothing is close."""
    matches = closest_names(word, candidates)
    return matches[0] if matches else None


def likely_typo_of(word: str, candidates: Iterable[str]) -> Optional[str]:
    """The candidate `word` is almost certainly a misspelling of (case and ``-``/``_`` ignored), or None.

    Stricter than `closest_name`: used to refuse, not just to hint, so an unrelated name that
    merely shares a few letters with a valid one must not match.
    """
    wanted = _normal(str(word))
    best_name, best_ratio = None, 0.0
    for candidate in sorted(set(candidates)):
        ratio = difflib.SequenceMatcher(None, wanted, _normal(candidate)).ratio()
        if ratio > best_ratio:
            best_name, best_ratio = candidate, ratio
    return best_name if best_ratio >= _TYPO_CUTOFF else None


def _normal(name: str) -> str:
    return name.lower().replace("-", "_")


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """A message tail: ``did you mean 'x'?``, else the valid names (a few), else ``none exist``."""
    names = sorted({str(candidate) for candidate in candidates})
    best = closest_name(word, names)
    if best is not None:
        return f"did you mean {best!r}?"
    if not names:
        return "there are none"
    return f"valid names: {first_few(names, _MAX_LISTED)}"


# a suggestion worth making: `buld_model` -> `build_model` (0.95), `export_to_graph` -> `export_to_gm`
# (0.82); not `cleanup_input_constraints` -> `cleanup_unused_inputs` (0.61), a different transform
_CLOSE_CUTOFF = 0.75


def close_enough(word: str, candidates: Iterable[str]) -> Optional[str]:
    """The candidate `word` most resembles when the resemblance is strong enough to suggest it."""
    by_normal = {_normal(str(candidate)): str(candidate) for candidate in sorted(set(candidates), key=str)}
    matches = difflib.get_close_matches(_normal(str(word)), list(by_normal), n=1, cutoff=_CLOSE_CUTOFF)
    return by_normal[matches[0]] if matches else None
