"""Turning what goes wrong with a checkpoint into errors the user can act on.

Every problem with a model folder or one of its files becomes an `autodeploy.errors.CheckpointError`
whose message starts with the path at fault, so a user sees at once which file to look at and
what is wrong with it, instead of a traceback from deep inside safetensors or torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from autodeploy import CheckpointError, first_few
from autodeploy import describe_exception as describe_exception  # re-exported for this plugin's modules

PathLike = Union[str, os.PathLike]

# How many offending names an error lists before it says "and N more".
MAX_LISTED = 8


def checkpoint_error(path: PathLike, problem: str) -> CheckpointError:
    """A `CheckpointError` that names `path` first, then the problem with it."""
    return CheckpointError(f"{Path(path)}: {problem}")


# the core's helpers, under the names this plugin's modules use
list_names = first_few
