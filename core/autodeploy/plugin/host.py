"""`PluginHost`: the one object a pipeline asks for transforms, factories, modes and hooks.

It owns a pluggy plugin manager, loads installed plugins (entry points) one by one under the
user's controls, accepts in-process plugins (tests, notebooks), and collects what they register
lazily, on first use, so that building a host costs only the imports of the plugins themselves.
There is no global host: whoever runs a pipeline makes one and passes it on.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Optional

import pluggy

from .. import hookspecs
from ..attention_backend import AttentionBackend
from ..errors import ConfigError, PluginError, UnknownTransformError
from ..factory import ModelFactory
from ..markers import PROJECT_NAME
from ..messages import closest_names, first_few
from ..transform.base import BaseTransform
from .controls import STRICT_VAR, PluginControls
from .hooks import InvalidPluginHooks, register_plugin_hooks
from .lifecycle import LifecycleCalls
from .loader import TRANSFORMS_GROUP, find_entry_points, load_entry_point
from .records import IN_PROCESS, PluginRecord, PluginStatus
from .registry import FACTORY, MODE_ENTRY, TRANSFORM, Conflict, Provider, Registry, collect_registrations

_MAX_LISTED = 20
_NOT_LOADED = {
    PluginStatus.FAILED: "which failed",
    PluginStatus.INCOMPATIBLE: "which is incompatible with this core",
    PluginStatus.BLOCKED: "which is blocked",
    PluginStatus.DISABLED: "which is not loaded",
}


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    return first_few(names, _MAX_LISTED, sort=False) if names else "none"


class PluginHost(LifecycleCalls):
    """Loads plugins, keeps a record of each, and answers what they provide.

    Typical use::

        host = PluginHost.from_environment()        # installed plugins, per AUTODEPLOY_* variables
        cls = host.transform_class("build_model")

        host = PluginHost(PluginControls(autoload=False))
        host.register(my_plugin_module)             # in-process, e.g. in a test
    """

    def __init__(self, controls: Optional[PluginControls] = None):
        self.controls = controls if controls is not None else PluginControls()
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._records: list[PluginRecord] = []
        self._active: dict[str, PluginRecord] = {}  # pluggy name -> record of a registered plugin
        self._load_problems: dict[str, list[str]] = {}  # pluggy name -> problems found while loading
        self._handled_entry_points: set[tuple[str, str, str]] = set()
        self._seen_entry_points: list[tuple[str, Optional[str]]] = []
        self._control_notes: list[str] = []
        self._failed_keys: dict[tuple[str, str], list[str]] = {}  # from plugins whose registration failed
        self._registry: Optional[Registry] = None
        self._reserved_commands: frozenset[str] = frozenset()

    @classmethod
    def from_environment(
        cls,
        *,
        block: Iterable[str] = (),
        strict: Optional[bool] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> PluginHost:
        """A host with the controls read from the environment (`block` from ``-p no:NAME``) and
        the installed plugins loaded (recorded as disabled, unimported, when autoload is off)."""
        host = cls(PluginControls.from_env(environ, block=block, strict=strict))
        host.load_entry_points()
        return host

    # --- loading -------------------------------------------------------------------------------

    def load_entry_points(self) -> list[PluginRecord]:
        """Load every installed plugin not handled yet; returns the new records.

        Each entry point is loaded on its own: a plugin that is blocked, incompatible or broken
        gets a record saying so, and the others load regardless. With autoload off nothing is
        imported; the plugins are recorded as disabled so that listings still show them.
        """
        new_records = []
        for found in find_entry_points():
            if found.identity in self._handled_entry_points:
                continue
            self._handled_entry_points.add(found.identity)
            self._seen_entry_points.append((found.entry_point.name, found.distribution_name))
            loaded = load_entry_point(self._pm, found, self.controls)
            self._add_record(loaded.record, loaded.pluggy_name)
            new_records.append(loaded.record)
        if self.controls.autoload:
            self._control_notes = self.controls.unmatched_names(self._seen_entry_points)
        return new_records

    def register(self, plugin: Any, name: Optional[str] = None) -> PluginRecord:
        """Register an in-process plugin (a module, a class instance, any object with hookimpls).

        Not subject to the allow/block controls: the caller chose it. Problems are recorded on
        the returned record, as for installed plugins, rather than raised; those of its
        registrations appear once registrations are collected (on the next lookup).
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        version = getattr(plugin, "__version__", None)
        record = PluginRecord(
            name=name,
            group=IN_PROCESS,
            value=IN_PROCESS,
            distribution=None,
            version=version if isinstance(version, str) else None,
            status=PluginStatus.LOADED,
        )
        pluggy_name: Optional[str] = name
        if self._pm.has_plugin(name):
            holder = self._active.get(name)
            record.status = PluginStatus.FAILED
            record.error = f"a plugin named {name!r} is already registered" + (f": {holder.origin}" if holder else "")
            pluggy_name = None
        else:
            try:
                record.problems.extend(register_plugin_hooks(self._pm, plugin, name))
            except InvalidPluginHooks as exc:
                record.status = PluginStatus.FAILED
                record.error = str(exc)
                pluggy_name = None
        self._add_record(record, pluggy_name)
        return record

    def _add_record(self, record: PluginRecord, pluggy_name: Optional[str]) -> None:
        self._records.append(record)
        if pluggy_name is not None:
            self._active[pluggy_name] = record
            self._load_problems[pluggy_name] = list(record.problems)
            self._registry = None  # what is registered changed: collect again on next use

    # --- what is loaded ------------------------------------------------------------------------

    @property
    def hook(self) -> pluggy.HookRelay:
        """The pluggy hook relay (the core calls hooks through the typed methods of `LifecycleCalls`).

        Registrations are collected first, so a plugin whose registration failed is not called.
        """
        self._collected()
        return self._pm.hook

    @property
    def plugins(self) -> list[PluginRecord]:
        """A record of every plugin seen, in the order seen, with what each provides."""
        self._collected()
        return list(self._records)

    def transforms(self) -> dict[str, Provider]:
        """The usable transforms by key, sorted (conflicting and rejected keys excluded)."""
        return dict(self._checked().transforms)

    def factories(self) -> dict[str, Provider]:
        """The usable model factories by name, sorted."""
        return dict(self._checked().factories)

    def attention_backends(self) -> dict[str, Provider]:
        """The usable attention backends by name (`AttentionBackend` objects), sorted."""
        return dict(self._checked().attention_backends)

    def attention_backend(self, name: str) -> AttentionBackend:
        """The attention backend registered as `name`; `PluginError` naming the known ones otherwise."""
        registry = self._checked()
        provider = registry.attention_backends.get(name)
        if provider is not None:
            return provider.obj
        why = registry.unusable.get(("attention backend", name))
        conflict = registry.conflict_for("attention backend", name)
        if conflict is not None:
            raise PluginError(conflict.describe())
        known = ", ".join(sorted(registry.attention_backends)) or "none"
        detail = f" ({'; '.join(why)})" if why else ""
        raise PluginError(
            f"unknown attention backend {name!r}{detail}; installed backends: {known} "
            "(a backend comes with its plugin: pip install autodeploy-plugin-<backend>)"
        )

    def modes(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every mode, merged across plugins: mode -> transform key -> entry (copies)."""
        return {mode: self._entries(providers) for mode, providers in self._checked().modes.items()}

    def mode(self, name: str) -> dict[str, dict[str, Any]]:
        """The merged entries of one mode; `ConfigError` names the available modes otherwise."""
        modes = self._checked().modes
        if name not in modes:
            close = closest_names(str(name), modes)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            held = self.held_back()
            raise ConfigError(
                f"unknown mode {name!r}{hint} Available modes: {_listing(modes)}" + (f"; {held}" if held else ""),
                path="mode",
            )
        return self._entries(modes[name])

    def modes_for(self, key: str) -> list[str]:
        """The modes that configure transform `key` (the docs' "Configured modes" line)."""
        return [mode for mode, providers in self._checked().modes.items() if key in providers]

    def commands(self, *, check_strict: bool = True) -> dict[str, Provider]:
        """The usable plugin subcommands by name, sorted (`PluginCommand` objects); names taken
        by a built-in command (`reserve_commands`) or by two plugins are left out and reported.

        ``check_strict=False`` answers even in strict mode with problems: the command line lists
        the commands first and fails on the problems when one runs.
        """
        return dict((self._checked() if check_strict else self._collected()).commands)

    def reserve_commands(self, names: Iterable[str]) -> None:
        """Declare the command names the application itself uses (the CLI's built-in commands): a
        plugin that registers one of them gets a problem on its record, and its command is ignored."""
        reserved = frozenset(names)
        if reserved != self._reserved_commands:
            self._reserved_commands = reserved
            self._registry = None

    def note_problem(self, plugin: PluginRecord, problem: str) -> None:
        """Record a problem found while using what `plugin` registered (e.g. its command's options
        would not build): shown with every other plugin problem, and fatal in strict mode."""
        for pluggy_name, record in self._active.items():
            if record is plugin:
                self._load_problems[pluggy_name].append(problem)
        if problem not in plugin.problems:
            plugin.problems.append(problem)

    def held_back(self) -> Optional[str]:
        """Why installed plugins were not loaded by the user's own choice (allow list, block list,
        autoload off), in words for an error about something missing; None when none were.

        Without it, an allow list that matches nothing reads as an installation with no plugins
        ("unknown mode 'graph' (there are none)"), and the user looks in the wrong place.
        """
        held = [record for record in self._records if record.status in (PluginStatus.BLOCKED, PluginStatus.DISABLED)]
        if not held:
            return None
        reasons = sorted({record.error or record.status.value for record in held})
        count = f"{len(held)} installed plugin{'s are' if len(held) > 1 else ' is'} not loaded"
        return f"{count}: {'; '.join(reasons[:3])}" + (f"; ... ({len(reasons)} reasons)" if len(reasons) > 3 else "")

    def conflicts(self) -> list[Conflict]:
        """Keys registered by more than one plugin (transforms, factories, mode entries)."""
        return list(self._collected().conflicts)

    def problems(self) -> list[str]:
        """Every problem, one readable line each, naming plugin, distribution and version:
        failed and incompatible plugins, conflicts, rejected registrations, unmatched controls."""
        registry = self._collected()
        lines = []
        for record in self._records:
            if record.status in (PluginStatus.FAILED, PluginStatus.INCOMPATIBLE):
                lines.append(f"{record.origin} {record.status.value}: {record.error}")
            lines.extend(f"{record.origin}: {problem}" for problem in record.problems)
        lines.extend(conflict.describe() for conflict in registry.conflicts if conflict.kind != MODE_ENTRY)
        lines.extend(self._control_notes)
        return lines

    # --- lookups with helpful errors -----------------------------------------------------------

    def transform_class(self, key: str) -> type[BaseTransform]:
        """The transform class registered as `key`.

        Raises `PluginError` when the key is ambiguous (two plugins) or its plugin is broken,
        blocked or rejected it, and `UnknownTransformError` (naming the closest keys) otherwise.
        """
        registry = self._checked()
        provider = registry.transforms.get(key)
        if provider is not None:
            return provider.obj
        self._raise_if_known_but_unusable(registry, TRANSFORM, key)
        record = self._unloaded_transform_plugin(key)
        if record is not None:
            raise PluginError(
                f"transform {key!r} would come from {record.origin}, {_NOT_LOADED[record.status]}: {record.error}"
            )
        raise UnknownTransformError(self._unknown_message(TRANSFORM, key, registry.transforms))

    def transform_key_of(self, cls: type[BaseTransform]) -> Optional[str]:
        """The key `cls` is registered under in this host (a class carries one key per host), or None."""
        for key, provider in self._checked().transforms.items():
            if provider.obj is cls:
                return key
        return None

    def factory_class(self, name: str) -> type[ModelFactory]:
        """The model factory class registered as `name` (``model_factory:`` in a config)."""
        registry = self._checked()
        provider = registry.factories.get(name)
        if provider is not None:
            return provider.obj
        self._raise_if_known_but_unusable(registry, FACTORY, name)
        raise ConfigError(self._unknown_message(FACTORY, name, registry.factories), path="model_factory")

    def hook_failure_origin(self, hook_name: str, error: BaseException) -> str:
        """Which plugin's implementation of `hook_name` raised `error`, in words (``plugin 'x' (dist 1.0)``).

        pluggy reports a hook's exception without saying whose implementation raised it; the
        implementation's code is in the traceback, so the frame tells.
        """
        caller = getattr(self._pm.hook, hook_name, None)
        implementations = caller.get_hookimpls() if caller is not None else []
        by_code = {}
        for impl in implementations:
            code = getattr(inspect.unwrap(impl.function), "__code__", None)
            if code is not None:
                by_code[code] = impl.plugin_name
        frame = error.__traceback__
        while frame is not None:
            plugin_name = by_code.get(frame.tb_frame.f_code)
            if plugin_name is not None:
                return self._origin(plugin_name)
            frame = frame.tb_next
        origins = sorted({self._origin(impl.plugin_name) for impl in implementations})
        return " or ".join(origins) if origins else "a plugin"

    def _origin(self, pluggy_name: str) -> str:
        record = self._active.get(pluggy_name)
        return record.origin if record is not None else f"plugin {pluggy_name!r}"

    # --- internals -----------------------------------------------------------------------------

    def _collected(self) -> Registry:
        """Collect registrations once (and again after a new plugin was registered)."""
        if self._registry is not None:
            return self._registry
        for pluggy_name, record in self._active.items():
            record.problems = list(self._load_problems[pluggy_name])
            record.provides = []
        registry, outcomes = collect_registrations(self._pm, self._active, self._reserved_commands)
        for pluggy_name, outcome in outcomes.items():
            record = self._active[pluggy_name]
            record.problems.extend(outcome.problems)
            record.provides = outcome.provides
            if outcome.error is not None:
                # drop everything of it, lifecycle hooks included; remember what it tried to provide
                record.status = PluginStatus.FAILED
                record.error = outcome.error
                self._pm.unregister(name=pluggy_name)
                del self._active[pluggy_name]
        for key, reasons in registry.unusable.items():
            self._failed_keys.setdefault(key, [])
            self._failed_keys[key].extend(reason for reason in reasons if reason not in self._failed_keys[key])
        registry.unusable = {key: list(reasons) for key, reasons in self._failed_keys.items()}
        self._registry = registry
        return registry

    def check_strict(self) -> None:
        """In strict mode, raise `PluginError` listing every plugin problem; otherwise do nothing."""
        if not self.controls.strict:
            return
        problems = self.problems()
        if problems:
            listed = "\n".join(f"  - {problem}" for problem in problems)
            raise PluginError(f"strict plugin checks ({STRICT_VAR}=1) found {len(problems)} problem(s):\n{listed}")

    def _checked(self) -> Registry:
        """The registry, refusing to hand it out in strict mode while there are problems."""
        registry = self._collected()
        self.check_strict()
        return registry

    @staticmethod
    def _entries(providers: Mapping[str, Provider]) -> dict[str, dict[str, Any]]:
        return {key: copy.deepcopy(provider.obj) for key, provider in providers.items()}

    def _raise_if_known_but_unusable(self, registry: Registry, kind: str, key: str) -> None:
        conflict = registry.conflict_for(kind, key)
        if conflict is not None:
            raise PluginError(conflict.describe())
        reasons = registry.unusable.get((kind, key))
        if reasons:
            raise PluginError(f"{kind} {key!r} is not usable: {'; '.join(reasons)}")

    def _unloaded_transform_plugin(self, key: str) -> Optional[PluginRecord]:
        """A plugin that did not load and whose transforms entry point is named `key`: by
        convention the entry-point name of a transform plugin is its transform key."""
        for record in self._records:
            if record.group == TRANSFORMS_GROUP and record.name == key and not record.is_usable:
                return record
        return None

    def _unknown_message(self, kind: str, key: Any, usable: Mapping[str, Provider]) -> str:
        close = closest_names(str(key), usable, n=3)
        parts = [f"unknown {kind} {key!r}"]
        parts.append(
            f"did you mean {' or '.join(repr(name) for name in close)}?" if close else f"available: {_listing(usable)}"
        )
        parts.append(f"loaded plugins: {self.loaded_plugins_line()}")
        held = self.held_back()
        if held and not usable:
            parts.append(held)
        return "; ".join(parts)

    def loaded_plugins_line(self) -> str:
        """The loaded plugins (and those not loaded, with why) in one line, for error messages."""
        self._collected()
        line = _listing([record.origin for record in self._records if record.is_usable])
        not_loaded = [record for record in self._records if not record.is_usable]
        if not_loaded:
            line += f"; {len(not_loaded)} plugin(s) not loaded: " + _listing(
                f"{record.origin} {record.status.value}" for record in not_loaded
            )
        return line

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for record in self._records:
            counts[record.status.value] = counts.get(record.status.value, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "no plugins"
        return f"<PluginHost {summary}>"
