"""Writing command output that reads well in a terminal and pipes well.

Plain text only (no colors, no trailing spaces), fixed-width tables, and JSON that parses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any, TextIO

EMPTY_CELL = "-"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is not padded (no trailing spaces)."""
    all_rows = [list(header), *[[cell if cell else EMPTY_CELL for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in all_rows) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in all_rows
    )


def format_value(value: Any) -> str:
    """A config value as it would be written in JSON/YAML flow style: null, true, "meta", [1, 2]."""
    return json.dumps(_plain(value), default=str)


def write_json(data: Any, stream: TextIO | None = None) -> None:
    """Pretty JSON followed by one newline."""
    (stream or sys.stdout).write(json.dumps(_plain(data), indent=2, default=str) + "\n")


def write_text(text: str, stream: TextIO | None = None) -> None:
    """Text followed by exactly one newline."""
    (stream or sys.stdout).write(text.rstrip("\n") + "\n")


def _plain(value: Any) -> Any:
    """Enums as their values, so JSON shows `"factory"` rather than `"Stages.FACTORY"`."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
