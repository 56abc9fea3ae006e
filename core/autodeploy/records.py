"""What a run leaves behind: one record per transform, and the report that collects them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Optional

from .config import TransformInfo
from .stages import Stages


class TransformStatus(str, Enum):
    """How a transform's run ended."""

    APPLIED = "applied"  # ran; may still have matched nothing
    SKIPPED = "skipped"  # ran but reported nothing to do (e.g. no GraphModule to work on)
    DISABLED = "disabled"  # `enabled: false`: did not run at all
    FAILED = "failed"  # raised; with `skip_on_error` the pipeline went on


@dataclass
class TransformRecord:
    """One transform's run: kept in the module's history and in the run report."""

    key: str
    stage: Stages
    status: TransformStatus
    info: TransformInfo
    wall_time_s: float = 0.0
    mem_before_mb: float = 0.0
    mem_after_mb: float = 0.0
    cuda_mem_before_mb: Optional[float] = None
    cuda_mem_after_mb: Optional[float] = None
    error: Optional[str] = None
    traceback: Optional[str] = None
    # failed, and `skip_on_error` let the pipeline go on (with the module as the transform left it)
    skipped_on_error: bool = False
    # short remarks the transform made about this run (e.g. "cache hit"), shown next to the status
    notes: list[str] = field(default_factory=list)
    # what the transform noted beyond its match count (`BaseTransform.add_details`), e.g. the bytes
    # of the weights it rewrote before and after
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def num_matches(self) -> int:
        return self.info.num_matches

    @property
    def mem_change_mb(self) -> float:
        return self.mem_after_mb - self.mem_before_mb

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stage"] = self.stage.value
        data["status"] = self.status.value
        data["info"] = self.info.model_dump()
        data["mem_change_mb"] = round(self.mem_change_mb, 3)
        return data


@dataclass
class RunReport:
    """The records of one pipeline run, in execution order."""

    records: list[TransformRecord] = field(default_factory=list)

    def add(self, record: TransformRecord) -> None:
        self.records.append(record)

    def by_key(self, key: str) -> list[TransformRecord]:
        """Every record of `key` (a key may run more than once)."""
        return [record for record in self.records if record.key == key]

    @property
    def failed(self) -> list[TransformRecord]:
        return [record for record in self.records if record.status is TransformStatus.FAILED]

    def to_dict(self) -> dict[str, Any]:
        return {"transforms": [record.to_dict() for record in self.records]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format_table(self) -> str:
        """A fixed-width table for terminals: stage, key, status, matches, time, memory change (and
        the transforms' details, when any noted some)."""
        with_details = any(record.details for record in self.records)
        header: tuple[str, ...] = ("stage", "key", "status", "matches", "time", "mem")
        if with_details:
            header = (*header, "details")
        rows = [
            (
                record.stage.value,
                record.key,
                _status_text(record),
                str(record.num_matches),
                f"{record.wall_time_s:.3f}s",
                f"{record.mem_change_mb:+.1f}MB",
            )
            + ((format_details(record.details),) if with_details else ())
            for record in self.records
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        ]
        for record in self.records:
            if record.info.details:
                facts = ", ".join(f"{name}={value}" for name, value in record.info.details.items())
                lines.append(f"  {record.key}: {facts}")
        return "\n".join(lines)


def _status_text(record: TransformRecord) -> str:
    """The status column: the status, then why it was skipped and the transform's notes, if any."""
    remarks = (["skipped on error"] if record.skipped_on_error else []) + list(record.notes)
    return f"{record.status.value} ({', '.join(remarks)})" if remarks else record.status.value


def format_details(details: dict[str, Any]) -> str:
    """``groups=30 bytes_before=1.2MB bytes_after=0.6MB``: byte counts (names ending in ``bytes``
    or starting ``bytes_``) in readable units."""
    parts = []
    for name, value in details.items():
        if isinstance(value, int) and not isinstance(value, bool) and ("bytes" in name):
            parts.append(f"{name}={_readable_bytes(value)}")
        elif isinstance(value, float):
            parts.append(f"{name}={value:.4g}")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def _readable_bytes(count: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(count) >= size:
            return f"{count / size:.1f}{unit}"
    return f"{count}B"
