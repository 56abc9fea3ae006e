"""The project's exception types.

Every error a user can cause derives from `AutodeployError`; the CLI turns those into a
one-paragraph message and exit status 1, and shows a traceback only with `--debug`.
"""

from __future__ import annotations

from typing import Optional


class AutodeployError(Exception):
    """Base class of the errors autodeploy raises for problems the user can fix."""


class ConfigError(AutodeployError):
    """A pipeline configuration is invalid.

    `source` names where the config came from (a file, `--set`, a mode, the Python API) and
    `path` the dotted location inside it (`transforms.build_model.device`).
    """

    def __init__(self, message: str, *, source: Optional[str] = None, path: Optional[str] = None):
        self.message = message
        self.source = source
        self.path = path
        where = ": ".join(part for part in (source, path) if part)
        super().__init__(f"{where}: {message}" if where else message)


class PluginError(AutodeployError):
    """A plugin needed by the pipeline is missing, broken, blocked or ambiguous."""


class UnknownTransformError(ConfigError):
    """A config names a transform key that no loaded plugin registers."""


class TransformError(AutodeployError):
    """A transform failed while running; names the transform's key and stage.

    Always raised chained to the original exception (`raise ... from cause`), so `--debug` and
    `__cause__` keep the full story.
    """

    def __init__(self, key: str, stage: str, message: str):
        self.key = key
        self.stage = stage
        super().__init__(f"transform {key!r} (stage {stage}) failed: {message}")


class CheckpointError(AutodeployError):
    """A checkpoint folder or file is missing, unreadable, corrupt or does not fit the model."""
