"""Turning what goes wrong with a checkpoint into errors the user can act on.

Every problem with a model folder or one of its files becomes an `autodeploy.errors.CheckpointError`
whose message starts with the path at fault, so a user sees at once which file to look at and
what is wrong with it, instead of a traceback from deep inside safetensors or torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

from autodeploy import CheckpointError

PathLike = Union[str, os.PathLike]

# How many offending names an error lists before it says "and N more".
MAX_LISTED = 8


def checkpoint_error(path: PathLike, problem: str) -> CheckpointError:
    """A `CheckpointError` that names `path` first, then the problem with it."""
    return CheckpointError(f"{Path(path)}: {problem}")


def describe_exception(exc: BaseException) -> str:
    """A one-line description of a low-level exception (type and message), for embedding in errors."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def list_names(names: Iterable[str], limit: int = MAX_LISTED) -> str:
    """A short, sorted, comma-separated list of names; long lists end with how many were left out."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    left_out = len(ordered) - limit
    return f"{shown} and {left_out} more" if left_out > 0 else shown
