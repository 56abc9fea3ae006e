"""Turn a torch.export failure into one clear sentence: which model, where, and why.

torch.export errors are long (a guard expression, debugging advice, a partial graph). What a
user needs first is the line of *their* model that export could not capture and the first line
of torch's reason. torch often states the line itself ("The following call raised this
error: File ..., line N, in forward"); otherwise the innermost frame of the traceback that is
neither torch's nor this plugin's nor the standard library's is the model's code.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
import traceback
from dataclasses import dataclass
from typing import Optional

_CALL_RAISED = re.compile(
    r"The following call raised this error:\s*\n\s*File \"(?P<file>[^\"]+)\", line (?P<line>\d+), in (?P<func>\S+)"
    r"\s*\n(?P<code>[^\n]*)"
)
_ATEN_OP = re.compile(r"\b(aten\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)")
_MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class ExportFailure:
    """Where export failed in the model's code and the gist of torch's reason."""

    location: Optional[str]  # "file.py:12 in forward: `if h.sum() > 0:`"
    reason: str  # torch's first line, plus the aten op when torch named one


def describe_export_failure(error: BaseException) -> ExportFailure:
    """Find the failing call of the model and the first line of the reason in `error`."""
    message = str(error)
    location = _location_from_message(message) or _location_from_traceback(error)
    first_line = next((line.strip() for line in message.splitlines() if line.strip()), "")
    reason = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
    if len(reason) > _MAX_REASON_CHARS:
        reason = reason[: _MAX_REASON_CHARS - 3] + "..."
    op = _ATEN_OP.search(message)
    if op and op.group(1) not in reason:
        reason += f" (operation {op.group(1)})"
    return ExportFailure(location=location, reason=reason)


def _location_from_message(message: str) -> Optional[str]:
    match = _CALL_RAISED.search(message)
    if not match:
        return None
    return _format_location(match["file"], int(match["line"]), match["func"], match["code"])


def _location_from_traceback(error: BaseException) -> Optional[str]:
    """The innermost frame of model code, following the chain of causes from the outside in."""
    excluded = _library_dirs()
    chain: list[BaseException] = []
    current: Optional[BaseException] = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for exc in reversed(chain):  # the root cause first: it holds the deepest model frame
        frames = traceback.extract_tb(exc.__traceback__)
        for frame in reversed(frames):
            if not _is_library_frame(os.path.abspath(frame.filename), excluded):
                return _format_location(frame.filename, frame.lineno or 0, frame.name, frame.line or "")
    return None


def _library_dirs() -> tuple[list[str], list[str]]:
    """Folders whose frames are never the model's: (torch and this plugin, the standard library)."""
    packages = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
    torch = sys.modules.get("torch")
    torch_file = getattr(torch, "__file__", None) if torch is not None else None
    if torch_file:
        packages.append(os.path.dirname(os.path.abspath(torch_file)) + os.sep)
    stdlib = sysconfig.get_paths().get("stdlib")
    return packages, [os.path.abspath(stdlib) + os.sep] if stdlib else []


def _is_library_frame(path: str, excluded: tuple[list[str], list[str]]) -> bool:
    packages, stdlib = excluded
    if any(path.startswith(directory) for directory in packages):
        return True
    # installed packages (transformers' model code among them) may live below the stdlib folder
    in_site_packages = f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path
    return not in_site_packages and any(path.startswith(directory) for directory in stdlib)


def _format_location(file: str, line: int, func: str, code: str) -> str:
    code = code.strip()
    where = f"{os.path.basename(file)}:{line} in {func}"
    return f"{where}: `{code}`" if code else where
