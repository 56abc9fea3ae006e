"""Writing a whole folder of new files so that it appears complete or not at all.

Writing the files one by one into their final folder means an interruption (full disk, file-size
limit, Ctrl-C) leaves a half-made folder behind, which the next run must then refuse as "not
empty". Instead the files go into a hidden temporary sibling of the destination
(``.<name>.<random>.tmp``: same parent, so same file system), which is renamed into place in one
step once every file is written. A failure removes the temporary folder and leaves the destination
as it was. (Only a process killed outright can leave a temporary folder; it is hidden, and in
nobody's way.)
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..atomic import AtomicWriteError, atomic_write_text
from .names import ScaffoldError

STAGING_SUFFIX = ".tmp"
# random names tried for the temporary folder before giving up (a clash is already unlikely)
_NAME_ATTEMPTS = 100


def write_tree_atomically(target: Path, files: Mapping[str, str]) -> Path:
    """Create the folder `target` holding `files` (relative path -> text), all at once; return `target`.

    `target` may be missing or an empty folder (which is replaced); anything else in its place is
    refused with a `ScaffoldError`, and nothing is written. A file that cannot be written is an
    `AtomicWriteError` naming its final path.
    """
    _refuse_if_in_the_way(target)
    staging = _make_staging_folder(target)
    try:
        for relative, text in files.items():
            _write_staged(staging, target, relative, text)
        _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _refuse_if_in_the_way(target: Path) -> None:
    try:
        in_the_way = target.exists() and (not target.is_dir() or any(target.iterdir()))
    except OSError as exc:  # a path too long for the file system, a folder we may not read
        raise _write_error(exc, target) from exc
    if in_the_way:
        raise _already_exists(target)


def _already_exists(target: Path) -> ScaffoldError:
    return ScaffoldError(f"{target}: already exists and is not empty; choose another --dir or name")


def _make_staging_folder(target: Path) -> Path:
    """An empty hidden folder next to `target`, made like any folder of the user's (mode from the umask)."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a folder of the path should be
        blocker = next((folder for folder in target.parents if folder.exists() and not folder.is_dir()), parent)
        raise AtomicWriteError(errno.ENOTDIR, f"{blocker} is a file, not a folder", str(target)) from exc
    except OSError as exc:
        raise _write_error(exc, target) from exc
    for _ in range(_NAME_ATTEMPTS):
        staging = parent / f".{target.name}.{secrets.token_hex(4)}{STAGING_SUFFIX}"
        try:
            staging.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(exc, target) from exc
        return staging
    raise AtomicWriteError(errno.EEXIST, "no unused name for a temporary folder next to it", str(target))


def _write_staged(staging: Path, target: Path, relative: str, text: str) -> None:
    """Write one file into the staging folder; an error names where the file was going to be."""
    try:
        atomic_write_text(staging / relative, text)
    except AtomicWriteError as exc:
        raise AtomicWriteError(exc.errno, exc.strerror, str(target / relative)) from exc


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the finished folder to `target` in one step.

    The rename replaces an empty folder and refuses a non-empty one, so a folder filled meanwhile
    by someone else is never overwritten. Windows' rename replaces no folder at all, so there an
    empty `target` is removed first.
    """
    try:
        if os.name == "nt" and _is_empty_folder(target):
            target.rmdir()
        os.replace(staging, target)
    except OSError as exc:
        if (target.exists() or target.is_symlink()) and not _is_empty_folder(target):
            raise _already_exists(target) from exc
        raise _write_error(exc, target) from exc


def _is_empty_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def _write_error(exc: OSError, target: Path) -> AtomicWriteError:
    return AtomicWriteError(exc.errno, exc.strerror or str(exc), str(target))
