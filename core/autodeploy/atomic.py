"""Writing files safely: everything autodeploy writes goes through here.

Before writing, the target is classified (`classify_target`), because "replace the file" is only
right for a file:

- a regular file, or a path that does not exist yet, is written to a temporary file in the same
  folder and renamed over it. An interrupted write (crash, Ctrl-C, full disk) leaves the previous
  file intact. A symbolic link to a regular file keeps being a link: the file it points to is
  replaced.
- a character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named pipe), or a link to one,
  is written through as a stream. Replacing it would swap a system's device node, or the link a
  user made to see the output, for a regular file.
- anything else (a directory, a socket, a block device, a link to nothing) is refused, naming what
  is there; nothing is written.

`check_writable` runs the same classification up front, so a command can refuse an impossible
output path before doing the work whose result it would write.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Optional, Union

from .errors import AutodeployError

PathLike = Union[str, os.PathLike]

# /proc/self/fd/1, /proc/1234/fd/2, /dev/fd/1: names of a descriptor the process already has open
_OPEN_DESCRIPTOR = re.compile(r"^/(proc/(self|thread-self|\d+)|dev)/fd/\d+$")
_MAX_LINK_HOPS = 40  # as the kernel's own limit on following links (ELOOP)


class AtomicWriteError(OSError, AutodeployError):
    """Writing a file failed (full disk, file-size limit, no permission); the previous file is intact.

    An `OSError` (callers that handle file-system errors keep working) and an `AutodeployError`
    (the command line reports it in one line, without a traceback), naming the file.
    """

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}; the previous file, if any, is unchanged"


class WriteTargetRefused(AtomicWriteError):
    """The path names something that must not be written or replaced (a directory, a socket...)."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}; nothing was written"


class StreamWriteError(AtomicWriteError):
    """Writing through to a device or pipe failed (``/dev/full``, a pipe whose reader went away)."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


class WriteMode(str, Enum):
    REPLACE = "replace"  # a regular file or a new path: written beside it, then renamed over it
    STREAM = "stream"  # a character device or FIFO (or a link to one): written through in place


@dataclass(frozen=True)
class WriteTarget:
    """Where and how a write to `path` goes."""

    path: Path  # what the caller named
    destination: Path  # the file renamed over (the link's target for a link to a file); `path` for streams
    mode: WriteMode
    what: str  # in words, for messages: "a new file", "a regular file", "a character device", ...
    own_output: bool = False  # a descriptor this process has open (/dev/stdout): flush ours first


def classify_target(path: PathLike) -> WriteTarget:
    """How a write to `path` would go; a `WriteTargetRefused` (naming what is there) when it must not."""
    target = Path(path)
    try:
        info = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError) as exc:
        _check_folders_above(target)  # names a file in the way of the folders
        if isinstance(exc, NotADirectoryError):
            raise WriteTargetRefused(exc.errno, exc.strerror or str(exc), str(target)) from exc
        return WriteTarget(target, target, WriteMode.REPLACE, "a new file")
    except OSError as exc:
        raise WriteTargetRefused(exc.errno, exc.strerror or str(exc), str(target)) from exc
    if not stat.S_ISLNK(info.st_mode):
        return _by_kind(target, target, info.st_mode, linked=False)
    try:
        followed = os.stat(target)
    except FileNotFoundError:
        raise WriteTargetRefused(
            errno.ENOENT, f"it is a symbolic link to {os.readlink(target)}, which does not exist", str(target)
        ) from None
    except OSError as exc:
        raise WriteTargetRefused(exc.errno, exc.strerror or str(exc), str(target)) from exc
    if _names_an_open_descriptor(target):
        # /dev/stdout and friends: the caller's own output, whatever it is; never replaced
        if stat.S_ISREG(followed.st_mode) or stat.S_ISCHR(followed.st_mode) or stat.S_ISFIFO(followed.st_mode):
            return WriteTarget(target, target, WriteMode.STREAM, "an open output of this process", own_output=True)
    return _by_kind(target, Path(os.path.realpath(target)), followed.st_mode, linked=True)


def _by_kind(target: Path, resolved: Path, mode: int, *, linked: bool) -> WriteTarget:
    link = "a symbolic link to " if linked else ""
    if stat.S_ISREG(mode):
        return WriteTarget(target, resolved, WriteMode.REPLACE, f"{link}a regular file")
    if stat.S_ISCHR(mode):
        return WriteTarget(target, target, WriteMode.STREAM, f"{link}a character device")
    if stat.S_ISFIFO(mode):
        return WriteTarget(target, target, WriteMode.STREAM, f"{link}a FIFO (named pipe)")
    if stat.S_ISDIR(mode):
        raise WriteTargetRefused(errno.EISDIR, f"it is {link}a directory, not a file", str(target))
    kind = "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode) else "not a regular file"
    raise WriteTargetRefused(
        errno.EINVAL, f"it is {link}{kind}; only files, character devices and FIFOs are written", str(target)
    )


def _check_folders_above(target: Path) -> None:
    """Refuse a new path below an existing file (``notes.txt/pages/index.md``)."""
    for parent in target.parents:
        try:
            info = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise WriteTargetRefused(exc.errno, exc.strerror or str(exc), str(target)) from exc
        if not stat.S_ISDIR(info.st_mode):
            raise AtomicWriteError(errno.ENOTDIR, f"{parent} is a file, not a folder", str(target))
        return


def _names_an_open_descriptor(target: Path) -> bool:
    """True when following `target`'s links passes through ``/proc/self/fd/N`` or ``/dev/fd/N``."""
    current = os.path.abspath(target)
    for _ in range(_MAX_LINK_HOPS):
        if _OPEN_DESCRIPTOR.match(current):
            return True
        try:
            link = os.readlink(current)
        except OSError:
            return False
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return False


def check_writable(path: PathLike) -> WriteTarget:
    """Classify `path` and check that this process may write it, before any work is done.

    The write itself may still fail (a full disk); this refuses what can be known now: a directory
    or other unwritable kind of file, a file below a file, a folder without write permission.
    """
    target = classify_target(path)
    if target.mode is WriteMode.STREAM:
        if not os.access(target.path, os.W_OK):
            raise WriteTargetRefused(errno.EACCES, f"no permission to write {target.what}", str(target.path))
        return target
    folder = next((parent for parent in target.destination.parents if parent.exists()), target.destination.parent)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteTargetRefused(errno.EACCES, f"no permission to write in {folder}", str(target.path))
    return target


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write `data` to `path`: atomically for a file, through for a device or pipe (see the module)."""
    target = classify_target(path)
    if target.mode is WriteMode.STREAM:
        _write_through(target, data)
    else:
        _replace(target.destination, data, shown=target.path)
    return target.path


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path`; see `atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode(encoding))


def _replace(destination: Path, data: bytes, *, shown: Path) -> None:
    """Temp file in the same folder, fsync, rename over `destination`; errors name `shown`."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a folder of the path should be
        blocker = next(
            (parent for parent in destination.parents if parent.exists() and not parent.is_dir()), destination.parent
        )
        raise AtomicWriteError(errno.ENOTDIR, f"{blocker} is a file, not a folder", str(shown)) from exc
    except OSError as exc:
        raise AtomicWriteError(exc.errno, exc.strerror or str(exc), str(shown)) from exc
    try:
        # mkstemp creates 0600 files; give the file the mode it had, or what a plain open() would
        os.fchmod(fd, _mode_for(destination))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, destination)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise AtomicWriteError(exc.errno, exc.strerror or str(exc), str(shown)) from exc
        raise


def _write_through(target: WriteTarget, data: bytes) -> None:
    """Write `data` into the device or pipe at `target.path`, never creating or replacing anything.

    Opened without O_CREAT (a node that vanished meanwhile is an error, not a new file) and with
    O_APPEND (``/dev/stdout`` redirected to a file keeps what was printed before). A FIFO is opened
    non-blocking first, so that one nobody reads is an error instead of a hang.
    """
    if target.own_output:  # what this process printed so far comes first, as on the terminal
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target.path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENXIO:
            reason = f"it is {target.what} that no process is reading"
        raise StreamWriteError(exc.errno, reason, str(target.path)) from exc
    try:
        _blocking(fd)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise StreamWriteError(exc.errno, exc.strerror or str(exc), str(target.path)) from exc
    finally:
        os.close(fd)


def _flush(stream: Optional[IO[str]]) -> None:
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError):  # closed or broken: nothing of ours to order before the write
        pass


def _blocking(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: O_NONBLOCK was not set either
        return
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)


def _mode_for(target: Path) -> int:
    """The permission bits of the file being replaced, else 0666 less the process umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask
