"""Finding installed plugins (entry points) and loading each one on its own.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import, so one
broken package would take every other plugin down with it. Here each entry point is looked at,
checked (controls, core version) and imported separately, and whatever happens is written into
its `PluginRecord`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import Distribution, EntryPoint, distributions
from typing import Optional

import pluggy
from packaging.utils import canonicalize_name

from ..messages import describe_exception
from .compat import core_incompatibility
from .controls import DISABLE_AUTOLOAD_VAR, PluginControls
from .hooks import InvalidPluginHooks, register_plugin_hooks
from .records import PluginRecord, PluginStatus

logger = logging.getLogger(__name__)

TRANSFORMS_GROUP = "autodeploy.transforms"
PLUGINS_GROUP = "autodeploy.plugins"
ENTRY_POINT_GROUPS = (TRANSFORMS_GROUP, PLUGINS_GROUP)


@dataclass(frozen=True)
class FoundEntryPoint:
    """An entry point in one of our groups, with the distribution that declares it.

    `other_copies` names where copies of the same distribution in other versions sit on the path
    (two site directories, a stale egg): they are never loaded, only reported. Copies of the same
    version (an editable install also leaves ``src/*.egg-info`` on the path) are one plugin.
    """

    entry_point: EntryPoint
    distribution: Distribution
    distribution_name: str
    version: Optional[str]
    location: str
    other_copies: tuple[str, ...] = ()

    @property
    def identity(self) -> tuple[str, str, str]:
        return (canonicalize_name(self.distribution_name), self.entry_point.group, self.entry_point.name)

    def new_record(self, status: PluginStatus, error: Optional[str] = None) -> PluginRecord:
        record = PluginRecord(
            name=self.entry_point.name,
            group=self.entry_point.group,
            value=self.entry_point.value,
            distribution=self.distribution_name,
            version=self.version,
            status=status,
            error=error,
        )
        if self.other_copies and status not in (PluginStatus.BLOCKED, PluginStatus.DISABLED):
            # a plugin the user chose not to load needs no cleanup advice
            record.problems.append(
                f"{self.distribution_name} is installed more than once; loaded the copy in {self.location} "
                f"(version {self.version}), ignored the copies in {', '.join(self.other_copies)}"
            )
        return record


@dataclass
class LoadedPlugin:
    """What loading one entry point produced: always a record; a pluggy name only when registered."""

    record: PluginRecord
    pluggy_name: Optional[str] = None


def _location(distribution: Distribution) -> str:
    try:
        return str(distribution.locate_file(""))
    except Exception:  # noqa: BLE001 - a location is only for messages
        return "<unknown location>"


def _describe_copy(distribution: Distribution) -> str:
    return f"{_location(distribution)} (version {distribution.version})"


def find_entry_points(groups: Iterable[str] = ENTRY_POINT_GROUPS) -> list[FoundEntryPoint]:
    """Every entry point of `groups` on the import path, one per distribution and name.

    `importlib.metadata.entry_points()` silently drops a second copy of a distribution; we look
    at all distributions ourselves so that the copies can be reported. The first copy on the path
    wins, as it is the one `import` would find. Only copies in another version are reported, once
    per distribution (on its first entry point). (A copy that declares none of our entry points is
    not looked at: it could not be loaded as a plugin anyway.)
    """
    wanted = set(groups)
    # entry_points.txt first: it is small, and only distributions with our groups need metadata
    by_name: dict[str, list[tuple[Distribution, list[EntryPoint]]]] = {}
    for distribution in distributions():
        try:
            entry_points = [ep for ep in distribution.entry_points if ep.group in wanted]
            name = distribution.metadata["Name"] if entry_points else None
        except Exception as exc:  # noqa: BLE001 - unreadable metadata: skip that distribution only
            logger.warning("cannot read the metadata of %s: %s", _location(distribution), describe_exception(exc))
            continue
        if name:
            by_name.setdefault(canonicalize_name(name), []).append((distribution, entry_points))

    found = []
    for copies in by_name.values():
        (first, entry_points), *others = copies
        # the same folder twice on sys.path, or the same version again, is not a second copy
        first_location = _location(first)
        other_locations = tuple(
            dict.fromkeys(
                _describe_copy(copy)
                for copy, _ in others
                if _location(copy) != first_location and copy.version != first.version
            )
        )
        for index, entry_point in enumerate(entry_points):
            found.append(
                FoundEntryPoint(
                    entry_point=entry_point,
                    distribution=first,
                    distribution_name=first.metadata["Name"],
                    version=first.version,
                    location=first_location,
                    other_copies=other_locations if index == 0 else (),
                )
            )
    found.sort(key=lambda item: (item.entry_point.name, item.identity))
    return found


def _unique_pluggy_name(pm: pluggy.PluginManager, found: FoundEntryPoint) -> str:
    """The entry-point name, unless another plugin already has it (two distributions may choose
    the same entry-point name; pluggy needs unique names)."""
    name = found.entry_point.name
    if pm.has_plugin(name) or pm.is_blocked(name):
        name = f"{found.distribution_name}:{name}"
    return name


def load_entry_point(pm: pluggy.PluginManager, found: FoundEntryPoint, controls: PluginControls) -> LoadedPlugin:
    """Check, import and register one entry point; never raises for the plugin's own faults."""
    if not controls.autoload:
        return LoadedPlugin(
            found.new_record(PluginStatus.DISABLED, f"plugin autoload is off ({DISABLE_AUTOLOAD_VAR}=1)")
        )
    refusal = controls.refusal(found.entry_point.name, found.distribution_name)
    if refusal is not None:
        return LoadedPlugin(found.new_record(PluginStatus.BLOCKED, refusal))
    incompatibility = core_incompatibility(found.distribution)
    if incompatibility is not None:
        return LoadedPlugin(found.new_record(PluginStatus.INCOMPATIBLE, incompatibility))

    try:
        plugin = found.entry_point.load()
    except Exception as exc:  # noqa: BLE001 - any import-time failure only disables this plugin
        # recorded, and shown by whoever lists problems; a log line per host would only repeat it
        logger.debug("plugin %s (%s) failed to load: %s", found.entry_point.name, found.distribution_name, exc)
        return LoadedPlugin(found.new_record(PluginStatus.FAILED, describe_exception(exc)))

    record = found.new_record(PluginStatus.LOADED)
    pluggy_name = _unique_pluggy_name(pm, found)
    try:
        record.problems.extend(register_plugin_hooks(pm, plugin, pluggy_name))
    except InvalidPluginHooks as exc:
        record.status = PluginStatus.FAILED
        record.error = str(exc)
        return LoadedPlugin(record)
    return LoadedPlugin(record, pluggy_name=pluggy_name)
