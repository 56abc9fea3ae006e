"""What can be wrong between a checkpoint and the model, collected during a load and reported
at once as a `CheckpointError` that lists the first few offenders of each kind.

Collecting (instead of stopping at the first problem) shows the whole picture in one run: a
renamed layer shows up as the same names missing and unexpected, a wrong config as a family of
shape mismatches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from autodeploy import CheckpointError

# How many offenders of each kind the message lists (the count of the rest follows).
SHOWN_PER_KIND = 5


@dataclass
class LoadProblems:
    """Offenders found while loading, by kind; each entry is one line of the final message."""

    unexpected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    dtype_mismatch: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)

    def add_unexpected(self, name: str, shape: Sequence[int], shard: str) -> None:
        self.unexpected.append(f"{name} (shape {list(shape)}, in {shard})")

    def add_missing(self, name: str, shape: Sequence[int], tied_to: Sequence[str] = ()) -> None:
        tied = f", tied to {', '.join(tied_to)}" if tied_to else ""
        self.missing.append(f"{name} (model expects shape {list(shape)}{tied})")

    def add_shape_mismatch(self, name: str, expected: Sequence[int], found: Sequence[int], shard: str) -> None:
        self.shape_mismatch.append(
            f"{name}: model expects shape {list(expected)}, checkpoint has {list(found)} (in {shard})"
        )

    def add_dtype_mismatch(self, name: str, expected: object, found: object, shard: str) -> None:
        self.dtype_mismatch.append(
            f"{name}: model expects {expected}, checkpoint has {found}, which cannot be cast to it (in {shard})"
        )

    def add_duplicate(self, name: str, shard: str, first_shard: str) -> None:
        self.duplicate.append(f"{name} (in {shard}, already loaded from {first_shard})")

    def __bool__(self) -> bool:
        return any(self._kinds().values())

    def to_error(self, source: str) -> CheckpointError:
        """One error naming the checkpoint and listing the first offenders of each kind."""
        kinds = {label: entries for label, entries in self._kinds().items() if entries}
        total = sum(len(entries) for entries in kinds.values())
        lines = [f"checkpoint of {source} does not fit the model ({total} problem{'s' if total != 1 else ''}):"]
        for label, entries in kinds.items():
            lines.append(f"  {label} ({len(entries)}):")
            lines.extend(f"    - {entry}" for entry in entries[:SHOWN_PER_KIND])
            if len(entries) > SHOWN_PER_KIND:
                lines.append(f"    ... and {len(entries) - SHOWN_PER_KIND} more")
        return CheckpointError("\n".join(lines))

    def _kinds(self) -> dict[str, list[str]]:
        return {
            "shape mismatch": self.shape_mismatch,
            "missing from the checkpoint": self.missing,
            "unexpected in the checkpoint (not in the model)": self.unexpected,
            "dtype that cannot be cast": self.dtype_mismatch,
            "loaded twice": self.duplicate,
        }
