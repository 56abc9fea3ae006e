"""The project's exception types.

Every error a user can cause derives from `AutodeployError`; the CLI turns those into a
one-paragraph message and exit status 1, and shows a traceback only with `--debug`.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    @property
    def problems(self) -> list[AutodeployError]:
        """Every problem this error reports: just itself (`ConfigProblems` carries several)."""
        return [self]


class ConfigProblems(ConfigError):
    """Several problems of one pipeline config, reported together (grouped by kind).

    A config copied from elsewhere often has many problems at once; fixing them one run at a
    time costs a run each. `problems` holds each one (a `ConfigError`, or a `PluginError` for an
    entry whose plugin is broken), each naming its file and path; `source` and `path` are the
    first one's. `groups` is the heading of each group, in order; `notes` are said once at the
    end (e.g. the loaded plugins), not once per problem.
    """

    def __init__(
        self,
        grouped: list[tuple[str, list[AutodeployError]]],
        *,
        notes: Sequence[str] = (),
    ):
        self.grouped = [(heading, list(errors)) for heading, errors in grouped if errors]
        self.notes = list(notes)
        everything = [error for _, errors in self.grouped for error in errors]
        self._problems = everything
        lines = [f"{len(everything)} problems in the pipeline config:"]
        for heading, errors in self.grouped:
            lines.append(f"  {heading}:")
            lines.extend(f"    - {error}" for error in errors)
        lines.extend(f"  {note}" for note in self.notes)
        first = everything[0] if everything else None
        AutodeployError.__init__(self, "\n".join(lines))
        self.message = "\n".join(lines)
        self.source = getattr(first, "source", None)
        self.path = getattr(first, "path", None)

    @property
    def problems(self) -> list[AutodeployError]:
        return list(self._problems)


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
