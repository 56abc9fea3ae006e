"""Folders in the cache that appear whole or not at all.

A model folder is built in a hidden sibling (``.NAME.partial-XXXX``) and renamed into place
once complete, with a marker file written last. A crash or an exception mid-way therefore never
leaves a half folder under the real name; two processes building the same folder at once both
succeed, the first rename wins and the other discards its copy.

A cache may be shared: by the users of one machine (so folders get the usual permissions, not
the private 0700 of a temporary folder), and by several machines mounting one file system. A
partial folder left by a killed builder is removed by the next one, but only when it is sure the
builder is gone: the partial folder holds a lock file naming the builder's host, process id and
start time. On this host a dead (or reused) process id is proof; a process on another host cannot
be seen from here, so its partial folder is kept until it is older than any build takes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil

from autodeploy import AutodeployError, atomic_write_text

COMPLETE_MARKER = "autodeploy-cache.json"
BUILD_LOCK = ".autodeploy-build.json"  # in a partial folder: who builds it (host, pid, start time)
PARTIAL_INFIX = ".partial-"
# A partial folder whose builder cannot be checked (another host, no lock) is removed after this.
STALE_PARTIAL_AGE_S = 24 * 3600
# slack when comparing a process's start time with the time its lock records
_START_SLACK_S = 2.0


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
        _refuse_existing(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(destination)
    partial = _new_partial_folder(destination)
    try:
        atomic_write_text(partial / BUILD_LOCK, json.dumps(build_lock()) + "\n")
        build(partial)
        atomic_write_text(partial / COMPLETE_MARKER, json.dumps(dict(description), indent=2, sort_keys=True) + "\n")
        (partial / BUILD_LOCK).unlink()
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


def _new_partial_folder(destination: Path) -> Path:
    """An empty hidden sibling of `destination`, made like any folder (mode from the umask: not
    tempfile.mkdtemp's private 0700, which would lock the other users of a shared cache out)."""
    while True:
        partial = destination.parent / f".{destination.name}{PARTIAL_INFIX}{secrets.token_hex(4)}"
        try:
            partial.mkdir()
        except FileExistsError:
            continue
        return partial


def _refuse_existing(destination: Path) -> None:
    """A folder under the real name that is not usable: say whether it is unreadable or incomplete."""
    if not os.access(destination, os.R_OK | os.X_OK):
        info = destination.stat()
        raise AutodeployError(
            f"cache folder {destination} exists, but this user cannot read it (owner uid {info.st_uid}, mode "
            f"{info.st_mode & 0o777:04o}); ask its owner to make it readable (chmod -R a+rX), or set "
            "AUTODEPLOY_CACHE_DIR to a cache folder of your own"
        )
    raise AutodeployError(
        f"cache folder {destination} exists but is not a complete autodeploy cache folder "
        f"(no {COMPLETE_MARKER}); delete it and run again"
    )


def build_lock() -> dict[str, Any]:
    """What a partial folder's lock file records about the process building it."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}


def is_stale(partial: Path, *, now: float | None = None) -> bool:
    """True when the builder of `partial` is certainly gone (see the module docstring)."""
    now = time.time() if now is None else now
    lock = _read_lock(partial / BUILD_LOCK)
    if lock is None:  # no lock (written first, so: killed at once, or an older autodeploy): by age only
        try:
            return now - partial.stat().st_mtime > STALE_PARTIAL_AGE_S
        except OSError:
            return False
    if lock["host"] != socket.gethostname():
        return now - lock["started"] > STALE_PARTIAL_AGE_S
    return not _same_process_alive(lock["pid"], lock["started"])


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    valid = (
        isinstance(lock, dict)
        and isinstance(lock.get("host"), str)
        and isinstance(lock.get("pid"), int)
        and isinstance(lock.get("started"), (int, float))
    )
    return lock if valid else None


def _same_process_alive(pid: int, started: float) -> bool:
    """The process `pid` runs and began before `started` (a later one reuses a dead builder's id)."""
    try:
        return psutil.Process(pid).create_time() <= started + _START_SLACK_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists; its age cannot be told: keep its folder
    except (OSError, ValueError, OverflowError):  # an impossible pid in a damaged lock
        return False


def _remove_stale_partials(destination: Path) -> None:
    """Delete partial folders of `destination` whose builder is certainly gone (killed mid-way)."""
    now = time.time()
    for candidate in destination.parent.glob(f".{destination.name}{PARTIAL_INFIX}*"):
        if candidate.is_dir() and is_stale(candidate, now=now):
            shutil.rmtree(candidate, ignore_errors=True)
