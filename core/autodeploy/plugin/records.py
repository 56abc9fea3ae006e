"""What the plugin host knows about each plugin: where it came from and how loading it went.

A record exists for every plugin the host saw, including the ones it refused or could not load,
so that `autodeploy plugins`, error messages and strict mode can say exactly which plugin,
distribution and version is at fault instead of a bare traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

from ..messages import describe_exception  # noqa: F401 - its old home, kept for importers

IN_PROCESS = "<in-process>"


class PluginStatus(str, Enum):
    """How far a plugin got: only `loaded` plugins take part in pipelines."""

    LOADED = "loaded"  # imported and registered; its registrations are usable
    FAILED = "failed"  # import, hook validation or a registration hook raised
    BLOCKED = "blocked"  # refused by the block list or not on the allow list; never imported
    INCOMPATIBLE = "incompatible"  # requires a core version range that excludes this core; never imported
    DISABLED = "disabled"  # installed, but autoload is off; never imported


@dataclass
class PluginRecord:
    """One plugin as the host saw it.

    `name` is the entry-point name (or the name given to an in-process registration); `value` is
    the entry point's ``module:attr`` string so that a user can find the code; `error` says why a
    plugin is not loaded; `problems` lists what was wrong but not fatal (a rejected registration,
    a second copy of the distribution); `provides` lists what it registered.
    """

    name: str
    group: str
    value: str
    distribution: Optional[str]
    version: Optional[str]
    status: PluginStatus
    error: Optional[str] = None
    problems: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        """Who to blame, in words: ``plugin 'x' (dist 1.0)`` or ``plugin 'x' (in-process)``."""
        if self.distribution is None:
            return f"plugin {self.name!r} (in-process)"
        version = f" {self.version}" if self.version else ""
        return f"plugin {self.name!r} ({self.distribution}{version})"

    @property
    def is_usable(self) -> bool:
        return self.status is PluginStatus.LOADED
