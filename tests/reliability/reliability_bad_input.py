"""What every entry of the reliability catalogue has: an id, the bad input in words, and, while
someone else's code still falls short on it, the gap (the case is then an expected failure).

Each category module (``reliability_cases_*.py``) lists its cases as data; the test modules
parametrize over them, and `reliability_catalogue` counts them for the README.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True, kw_only=True)
class BadInput:
    """One bad input the suite tries."""

    id: str
    what: str
    # whose code does not handle this input yet, and how; None when it is handled
    known_gap: Optional[str] = None


def params(cases: Iterable[BadInput], *extra: Any) -> list[Any]:
    """pytest parameters for `cases` (id = the case's id); a case with a known gap is a strict
    expected failure, so the test starts failing, and the count goes stale, once the gap is fixed."""
    import pytest

    result = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=case.known_gap)] if case.known_gap else []
        result.append(pytest.param(case, *extra, id=case.id, marks=marks))
    return result
