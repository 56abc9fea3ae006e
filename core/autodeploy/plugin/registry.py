"""Collecting what the loaded plugins register, each registration attributed to its plugin.

pluggy would call every plugin's ``autodeploy_register_*`` hook in one go, with one shared
``register`` callable: then nobody knows which plugin registered which key, and one plugin that
raises stops the call for all. Here each plugin's hook implementation is called on its own with
a ``register`` bound to that plugin. A plugin whose hook raises is marked failed and everything it
registered is dropped; a key registered by two plugins is a conflict, reported with both
providers and never silently overwritten.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import pluggy

from .commands import PluginCommand, make_command
from .controls import ALLOW_VAR, BLOCK_VAR
from .records import PluginRecord, describe_exception
from .validation import attention_backend_problem, factory_problem, split_mode_entries, transform_problem

TRANSFORM = "transform"
FACTORY = "factory"
MODE = "mode"
MODE_ENTRY = "mode entry"
COMMAND = "command"
ATTENTION_BACKEND = "attention backend"

REGISTRATION_HOOKS: dict[str, str] = {
    "autodeploy_register_transforms": TRANSFORM,
    "autodeploy_register_factories": FACTORY,
    "autodeploy_register_modes": MODE,
    "autodeploy_register_commands": COMMAND,
    "autodeploy_register_attention_backends": ATTENTION_BACKEND,
}


@dataclass(frozen=True)
class Provider:
    """A usable registration: the key, the registered object and the plugin that provided it."""

    key: str
    obj: Any
    plugin: PluginRecord


@dataclass(frozen=True)
class Conflict:
    """One key registered by more than one plugin. For a mode entry, `mode` names the mode and
    the first provider (by plugin name) is the one kept."""

    kind: str
    key: str
    providers: tuple[Provider, ...]
    mode: Optional[str] = None

    def describe(self) -> str:
        what = f"{self.kind} {self.key!r}" if self.mode is None else f"mode {self.mode!r} entry {self.key!r}"
        by = " and ".join(provider.plugin.origin for provider in self.providers)
        if self.mode is not None:
            return f"{what} is contributed by {by}; the first is kept"
        return f"{what} is registered by {by}; {how_to_pick(self.providers)}"


def how_to_pick(providers: tuple[Provider, ...]) -> str:
    """The ways a user can keep one provider and drop the others."""
    names = [provider.plugin.distribution or provider.plugin.name for provider in providers]
    example = names[-1]
    return (
        f"keep one by blocking the others: '-p no:{example}' on the command line, "
        f"{BLOCK_VAR}={example}, or list the one to keep in the {ALLOW_VAR} allowlist"
    )


@dataclass
class PluginOutcome:
    """What collecting did to one plugin: an error (then nothing of it is usable), non-fatal
    problems, and what it provides."""

    error: Optional[str] = None
    problems: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """Everything usable, the conflicts, and why unusable keys are unusable (for error messages)."""

    transforms: dict[str, Provider] = field(default_factory=dict)
    factories: dict[str, Provider] = field(default_factory=dict)
    modes: dict[str, dict[str, Provider]] = field(default_factory=dict)
    commands: dict[str, Provider] = field(default_factory=dict)
    attention_backends: dict[str, Provider] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    unusable: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def conflict_for(self, kind: str, key: str) -> Optional[Conflict]:
        for conflict in self.conflicts:
            if conflict.kind == kind and conflict.key == key and conflict.mode is None:
                return conflict
        return None


@dataclass
class _Contribution:
    """One plugin's registrations, staged until all of its registration hooks returned."""

    record: PluginRecord
    transforms: dict[str, Any] = field(default_factory=dict)
    factories: dict[str, Any] = field(default_factory=dict)
    modes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    commands: dict[str, PluginCommand] = field(default_factory=dict)
    attention_backends: dict[str, Any] = field(default_factory=dict)
    reserved_commands: frozenset[str] = frozenset()
    problems: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # kind, key, reason
    error: Optional[str] = None

    def add(self, kind: str, key: Any, obj: Any) -> None:
        check = {TRANSFORM: transform_problem, ATTENTION_BACKEND: attention_backend_problem}.get(kind, factory_problem)
        reason = check(key, obj)
        if reason is not None:
            self.problems.append(reason)
            self.rejected.append((kind, str(key), reason))
            return
        staged = {TRANSFORM: self.transforms, ATTENTION_BACKEND: self.attention_backends}.get(kind, self.factories)
        if key in staged and staged[key] is not obj:
            self.problems.append(f"{kind} {key!r} registered twice by this plugin; the first is kept")
            return
        staged[key] = obj

    def add_mode(self, mode: Any, entries: Any) -> None:
        usable, problems = split_mode_entries(mode, entries)
        self.problems.extend(problems)
        if not usable and problems:
            return
        merged = self.modes.setdefault(mode, {})
        for key, entry in usable.items():
            if key in merged:
                self.problems.append(
                    f"mode {mode!r}: entry {key!r} contributed twice by this plugin; the first is kept"
                )
                continue
            merged[key] = copy.deepcopy(entry)

    def add_command(self, name: Any, fields: dict[str, Any]) -> None:
        command = make_command(name, **fields)
        reason = command if isinstance(command, str) else None
        if isinstance(command, PluginCommand) and command.name in self.reserved_commands:
            reason = f"command {command.name!r} is a built-in command of autodeploy; the plugin's command is ignored"
        if reason is not None:
            self.problems.append(reason)
            self.rejected.append((COMMAND, str(name), reason))
            return
        assert isinstance(command, PluginCommand)
        if command.name in self.commands:
            self.problems.append(f"command {command.name!r} registered twice by this plugin; the first is kept")
            return
        self.commands[command.name] = command

    def attempted(self) -> list[tuple[str, str]]:
        keys = [(TRANSFORM, key) for key in self.transforms] + [(FACTORY, key) for key in self.factories]
        keys += [(COMMAND, name) for name in self.commands]
        keys += [(ATTENTION_BACKEND, name) for name in self.attention_backends]
        return keys + [(kind, key) for kind, key, _ in self.rejected]


def _make_register(
    contribution: _Contribution, kind: str, hook_name: str
) -> tuple[Callable[..., None], Callable[[], None]]:
    """A ``register`` callable for one hook call of one plugin, and a function that closes it:
    a plugin that keeps the callable and registers later would otherwise bypass attribution."""
    is_open = True

    def register(key: Any, obj: Any) -> None:
        if not is_open:
            raise RuntimeError(f"register() of {hook_name} was called after the hook returned")
        if kind == MODE:
            contribution.add_mode(key, obj)
        else:
            contribution.add(kind, key, obj)

    def register_command(name: Any, *, help: str, run: Any, add_arguments: Any = None, description: Any = None) -> None:  # noqa: A002
        if not is_open:
            raise RuntimeError(f"register() of {hook_name} was called after the hook returned")
        fields = {"help": help, "run": run, "add_arguments": add_arguments, "description": description}
        contribution.add_command(name, fields)

    def close() -> None:
        nonlocal is_open
        is_open = False

    return (register_command if kind == COMMAND else register), close


def _run_registration_hooks(pm: pluggy.PluginManager, pluggy_name: str, contribution: _Contribution) -> None:
    for hook_name, kind in REGISTRATION_HOOKS.items():
        caller = getattr(pm.hook, hook_name, None)
        impls = [impl for impl in (caller.get_hookimpls() if caller else []) if impl.plugin_name == pluggy_name]
        for impl in impls:
            if impl.hookwrapper or impl.wrapper:
                contribution.problems.append(
                    f"{hook_name} is declared as a wrapper; registration hooks cannot be wrappers, ignored"
                )
                continue
            register, close = _make_register(contribution, kind, hook_name)
            try:
                impl.function(**{name: register for name in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - one plugin's fault must not stop the others
                contribution.error = f"{describe_exception(exc)} (raised in {hook_name})"
                return
            finally:
                close()


def collect_registrations(
    pm: pluggy.PluginManager, plugins: Mapping[str, PluginRecord], reserved_commands: frozenset[str] = frozenset()
) -> tuple[Registry, dict[str, PluginOutcome]]:
    """Call every registered plugin's registration hooks and build the registry.

    `plugins` maps pluggy names to records. Plugins are visited in order of name (then
    distribution), so which mode entry is kept on a conflict does not depend on install order.
    `reserved_commands` are the built-in command names a plugin command may not take.
    """
    order = sorted(plugins, key=lambda name: (plugins[name].name, plugins[name].distribution or "", name))
    contributions: dict[str, _Contribution] = {}
    for pluggy_name in order:
        contribution = _Contribution(plugins[pluggy_name], reserved_commands=reserved_commands)
        _run_registration_hooks(pm, pluggy_name, contribution)
        contributions[pluggy_name] = contribution
    # build first: it adds problems (mode conflicts, classes under two keys) the outcomes report
    registry = _build_registry([contributions[name] for name in order])
    return registry, {name: _outcome(contribution) for name, contribution in contributions.items()}


def _outcome(contribution: _Contribution) -> PluginOutcome:
    if contribution.error is not None:
        return PluginOutcome(error=contribution.error, problems=list(contribution.problems))
    provides = [f"{TRANSFORM} {key}" for key in contribution.transforms]
    provides += [f"{FACTORY} {key}" for key in contribution.factories]
    provides += [f"{MODE} {mode}" for mode in contribution.modes]
    provides += [f"{COMMAND} {name}" for name in contribution.commands]
    provides += [f"{ATTENTION_BACKEND} {name}" for name in contribution.attention_backends]
    return PluginOutcome(problems=list(contribution.problems), provides=provides)


def _build_registry(contributions: list[_Contribution]) -> Registry:
    registry = Registry()
    transforms: dict[str, list[Provider]] = {}
    factories: dict[str, list[Provider]] = {}
    commands: dict[str, list[Provider]] = {}
    backends: dict[str, list[Provider]] = {}
    key_of_class: dict[type, tuple[str, PluginRecord]] = {}

    for contribution in contributions:
        record = contribution.record
        for kind, key, reason in contribution.rejected:
            registry.unusable.setdefault((kind, key), []).append(
                f"{record.origin} registered it, but it was rejected: {reason}"
            )
        if contribution.error is not None:
            for kind, key in contribution.attempted():
                registry.unusable.setdefault((kind, key), []).append(
                    f"{record.origin} registered it, then failed: {contribution.error}"
                )
            continue
        for key, cls in list(contribution.transforms.items()):
            claimed = key_of_class.get(cls)
            if claimed is not None and claimed[0] != key:
                reason = (
                    f"transform {key!r}: class {cls.__qualname__} is already registered as {claimed[0]!r} by "
                    f"{claimed[1].origin}; a class carries one key (register a subclass under a second key)"
                )
                contribution.problems.append(reason)
                registry.unusable.setdefault((TRANSFORM, key), []).append(f"{record.origin}: {reason}")
                del contribution.transforms[key]
                continue
            key_of_class[cls] = (key, record)
            transforms.setdefault(key, []).append(Provider(key, cls, record))
        for name, cls in contribution.factories.items():
            factories.setdefault(name, []).append(Provider(name, cls, record))
        for name, command in contribution.commands.items():
            commands.setdefault(name, []).append(Provider(name, command, record))
        for name, backend in contribution.attention_backends.items():
            backends.setdefault(name, []).append(Provider(name, backend, record))
        for mode, entries in contribution.modes.items():
            merged = registry.modes.setdefault(mode, {})
            for key, entry in entries.items():
                kept = merged.get(key)
                if kept is None:
                    merged[key] = Provider(key, entry, record)
                    continue
                conflict = Conflict(MODE_ENTRY, key, (kept, Provider(key, entry, record)), mode=mode)
                registry.conflicts.append(conflict)
                contribution.problems.append(
                    f"mode {mode!r}: entry {key!r} is also contributed by {kept.plugin.origin}, which is kept "
                    "(first by plugin name); this plugin's entry is ignored"
                )

    for kind, providers_by_key, usable in (
        (TRANSFORM, transforms, registry.transforms),
        (FACTORY, factories, registry.factories),
        (COMMAND, commands, registry.commands),
        (ATTENTION_BACKEND, backends, registry.attention_backends),
    ):
        for key in sorted(providers_by_key):
            providers = providers_by_key[key]
            if len(providers) == 1:
                usable[key] = providers[0]
            else:
                registry.conflicts.append(Conflict(kind, key, tuple(providers)))
    # entries keep their order (plugins by name, each plugin's own order): within a stage, the
    # optimizer runs transforms in the order the mode lists them
    registry.modes = dict(sorted(registry.modes.items()))
    return registry
