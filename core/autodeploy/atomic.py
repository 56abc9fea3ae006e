"""Atomic file writes: everything autodeploy writes goes to a temporary file, then is renamed.

An interrupted write (crash, Ctrl-C, full disk) leaves the previous file intact.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Union

from .errors import AutodeployError

PathLike = Union[str, os.PathLike]


class AtomicWriteError(OSError, AutodeployError):
    """Writing a file failed (full disk, file-size limit, no permission); the previous file is intact.

    An `OSError` (callers that handle file-system errors keep working) and an `AutodeployError`
    (the command line reports it in one line, without a traceback), naming the file.
    """

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}; the previous file, if any, is unchanged"


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (temp file in the same folder, fsync, rename)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a folder of the path should be
        blocker = next((parent for parent in target.parents if parent.exists() and not parent.is_dir()), target.parent)
        raise AtomicWriteError(errno.ENOTDIR, f"{blocker} is a file, not a folder", str(target)) from exc
    except OSError as exc:
        raise AtomicWriteError(exc.errno, exc.strerror or str(exc), str(target)) from exc
    try:
        # mkstemp creates 0600 files; give the file the mode it had, or what a plain open() would
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise AtomicWriteError(exc.errno, exc.strerror or str(exc), str(target)) from exc
        raise
    return target


def _mode_for(target: Path) -> int:
    """The permission bits of the file being replaced, else 0666 less the process umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically; see `atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode(encoding))
