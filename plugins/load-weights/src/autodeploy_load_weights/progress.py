"""The progress bar of a load: tqdm, counting shards, shown only where it helps.

A bar is noise in logs and for loads that finish in a blink; by default (``show_progress:
null``) it is shown when stderr is a terminal and the checkpoint is at least 1 GiB.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, TextIO

AUTO_MIN_BYTES = 1 << 30


def checkpoint_bytes(files: Sequence[Path]) -> int:
    """Total size of the checkpoint files that exist (0 when the factory names none)."""
    total = 0
    for path in files:
        try:
            total += Path(path).stat().st_size
        except OSError:
            continue
    return total


def should_show(setting: Optional[bool], total_bytes: int, stream: Optional[TextIO] = None) -> bool:
    """The config's ``show_progress``, or the automatic choice when it is None."""
    if setting is not None:
        return setting
    stream = stream if stream is not None else sys.stderr
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return is_tty and total_bytes >= AUTO_MIN_BYTES


def make_bar(total_shards: Optional[int], total_bytes: int) -> Any:
    """A tqdm bar over shards (total unknown when the factory names no files)."""
    from tqdm.auto import tqdm

    size = f" ({total_bytes / 2**30:.1f} GiB)" if total_bytes else ""
    return tqdm(total=total_shards or None, unit="shard", desc=f"load_weights{size}", file=sys.stderr)
