"""Folders in the cache that appear whole or not at all.

A model folder is built in a hidden sibling (``.NAME.partial-PID-XXXX``) and renamed into place
once complete, with a marker file written last. A crash or an exception mid-way therefore never
leaves a half folder under the real name; two processes building the same folder at once both
succeed, the first rename wins and the other discards its copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil

from autodeploy import AutodeployError, atomic_write_text

COMPLETE_MARKER = "autodeploy-cache.json"
# Partial folders left by a killed process are removed once their process is gone, or after this.
_STALE_PARTIAL_AGE_S = 24 * 3600


def is_complete(folder: Path) -> bool:
    """True when `folder` is a finished cache folder (its marker, written last, is there)."""
    return (folder / COMPLETE_MARKER).is_file()


def read_marker(folder: Path) -> dict[str, Any]:
    """What the folder's marker records (source and format); {} when unreadable."""
    try:
        return json.loads((folder / COMPLETE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def materialize_folder(destination: Path, build: Callable[[Path], None], *, description: Mapping[str, Any]) -> Path:
    """Return `destination`, calling ``build(partial_folder)`` first when it does not exist yet.

    `build` fills the empty folder it is given; `description` (JSON-able) goes into the marker,
    so that a cache folder says where it came from.
    """
    if is_complete(destination):
        return destination
    if destination.exists():
        raise AutodeployError(
            f"cache folder {destination} exists but is not a complete autodeploy cache folder "
            f"(no {COMPLETE_MARKER}); delete it and run again"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(destination)
    partial = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-{os.getpid()}-", dir=destination.parent))
    try:
        build(partial)
        atomic_write_text(partial / COMPLETE_MARKER, json.dumps(dict(description), indent=2, sort_keys=True) + "\n")
        try:
            os.rename(partial, destination)
        except OSError:
            if not is_complete(destination):
                raise
            shutil.rmtree(partial, ignore_errors=True)  # another process finished first: use its folder
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return destination


def _remove_stale_partials(destination: Path) -> None:
    """Delete partial folders of `destination` whose builder died (killed mid-way)."""
    prefix = f".{destination.name}.partial-"
    now = time.time()
    for candidate in destination.parent.glob(f"{prefix}*"):
        pid_text = candidate.name[len(prefix) :].split("-", 1)[0]
        try:
            pid = int(pid_text)
            age = now - candidate.stat().st_mtime
        except (ValueError, OSError):
            continue
        if not psutil.pid_exists(pid) or age > _STALE_PARTIAL_AGE_S:
            shutil.rmtree(candidate, ignore_errors=True)
