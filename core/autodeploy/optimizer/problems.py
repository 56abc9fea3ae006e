"""Collecting a config's problems so that they are reported all at once.

Resolving a pipeline config goes on past the first problem (an unknown transform, a mistyped
field, a bad value, an unknown top-level key) and notes each one here, with its kind. At the end
`raise_if_any` raises nothing, the one problem as it is (its own error type), or `ConfigProblems`
with every problem grouped by kind, and the notes (such as the loaded plugins) said once.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from ..errors import AutodeployError, ConfigError, ConfigProblems


class ProblemKind(Enum):
    """What kind of problem, as the grouped report's heading says it (in this order)."""

    UNKNOWN_TRANSFORM = "unknown transforms (no installed plugin and no AutoDeploy transform has these keys)"
    UNAVAILABLE = "AutoDeploy transforms that no installed plugin provides (--allow-unavailable skips them)"
    PLUGIN = "transforms whose plugin cannot be used"
    MISSING_STAGE = "entries without a stage"
    FIELD = "unknown or misspelt fields"
    VALUE = "bad values"
    TOP_LEVEL = "top-level settings"
    MODE = "mode"


class ProblemList:
    """The problems found so far, in the order found, each with its kind."""

    def __init__(self) -> None:
        self._items: list[tuple[ProblemKind, AutodeployError]] = []
        self._notes: list[str] = []

    def add(self, kind: ProblemKind, error: AutodeployError) -> None:
        self._items.append((kind, error))

    def extend(self, kind: ProblemKind, errors: Iterable[AutodeployError]) -> None:
        for error in errors:
            self.add(kind, error)

    def note_once(self, note: str) -> None:
        """A line said once at the end of a report of several problems (e.g. the loaded plugins)."""
        if note not in self._notes:
            self._notes.append(note)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        """Raise the one problem as it is, or `ConfigProblems` for several; nothing when there are none."""
        if not self._items:
            return
        if len(self._items) == 1:
            _, error = self._items[0]
            if self._notes and isinstance(error, ConfigError):
                raise type(error)(
                    "; ".join([error.message, *self._notes]), source=error.source, path=error.path
                ) from None
            raise error
        grouped = [(kind.value, [error for k, error in self._items if k is kind]) for kind in ProblemKind]
        raise ConfigProblems(grouped, notes=self._notes) from None
