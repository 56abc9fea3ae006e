"""What Python objects a refused ``.bin`` pickle names, read without running any of it.

When ``torch.load(weights_only=True)`` refuses a checkpoint, torch's own message goes on to
suggest loading it with ``weights_only=False``: the one thing a user must not do with a file from
an untrusted source. The refusal therefore says in its own words what the file holds, from the
pickle's opcodes (`pickletools` only decodes them; nothing is imported or called).
"""

from __future__ import annotations

import pickletools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

# what a plain tensor state dict refers to: torch's rebuild functions and storages, OrderedDict
_EXPECTED_MODULES = ("torch", "collections", "builtins", "_codecs")
_LEGACY_PICKLES = 3  # a legacy (non-zip) file: magic number, protocol, system info, then the data
_MAX_LISTED = 3
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def foreign_globals(path: Path) -> list[str]:
    """``module.name`` of each object other than tensors and containers the pickle would build
    (e.g. ``posix.system``), in order; [] when there are none or the file cannot be decoded."""
    found: list[str] = []
    try:
        for stream in _pickles(path):
            for name in _globals(stream):
                if name.split(".", 1)[0] not in _EXPECTED_MODULES and name not in found:
                    found.append(name)
    except Exception:  # noqa: BLE001 - a message detail only: what was decoded before the damage stands
        pass
    return found


def describe_foreign(path: Path) -> str:
    """`` (it names posix.system)`` for a message, or ``""``."""
    names = foreign_globals(path)
    if not names:
        return ""
    shown = ", ".join(names[:_MAX_LISTED]) + (
        f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    )
    return f" (it names {shown})"


def _pickles(path: Path) -> Iterator[IO[bytes]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith("data.pkl"):
                    with archive.open(name) as stream:
                        yield stream
        return
    with path.open("rb") as stream:
        for _ in range(_LEGACY_PICKLES + 1):
            yield stream  # each pass of `_globals` reads one pickle, up to its STOP


def _globals(stream: IO[bytes]) -> Iterator[str]:
    """The globals one pickle refers to: GLOBAL's argument, or STACK_GLOBAL's two strings."""
    pushed: list[Any] = []  # what recent opcodes pushed (strings, else None), enough for STACK_GLOBAL
    memo: dict[Any, Any] = {}
    for opcode, arg, _ in pickletools.genops(stream):
        name = opcode.name
        if name == "GLOBAL":
            yield ".".join(str(arg).split(" ", 1))
        elif name == "STACK_GLOBAL":
            module, attribute = pushed[-2:] if len(pushed) >= 2 else (None, None)
            if isinstance(module, str) and isinstance(attribute, str):
                yield f"{module}.{attribute}"
        if name in _STRING_OPS:
            pushed.append(arg)
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = pushed[-1] if pushed else None
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            pushed.append(memo.get(arg))
        elif name not in ("FRAME", "PROTO", "STOP"):
            pushed.append(None)
