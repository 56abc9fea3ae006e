"""Registering one plugin object with pluggy, and refusing it when its hooks are wrong.

pluggy accepts a hook implementation for a hook it has never heard of (it waits for a spec that
will never come), and reports argument mismatches with a multi-line message naming no
distribution. A misspelt hook name would then do nothing, silently. Here every hook the plugin
implements must exist, and a mismatch becomes one readable line; the caller records it on the
plugin's record.
"""

from __future__ import annotations

import inspect
from typing import Any

import pluggy

from ..markers import PROJECT_NAME
from ..messages import closest_names

HOOK_PREFIX = "autodeploy_"


class InvalidPluginHooks(Exception):
    """The plugin's hook implementations do not fit the hook specifications; it is not registered."""


def hook_names(pm: pluggy.PluginManager) -> list[str]:
    """Every hook that has a specification, sorted."""
    return sorted(name for name, caller in vars(pm.hook).items() if not name.startswith("_") and caller.has_spec())


def register_plugin_hooks(pm: pluggy.PluginManager, plugin: Any, name: str) -> list[str]:
    """Register `plugin` under `name`; return non-fatal problems, raise `InvalidPluginHooks` when
    it cannot take part (then nothing of it stays registered)."""
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise InvalidPluginHooks(f"PluginValidationError: {_describe_validation_error(pm, plugin, exc)}") from exc
    except ValueError as exc:  # the same object (or name) is registered already
        other = pm.get_name(plugin)
        detail = f"the same object is already registered as plugin {other!r}" if other else str(exc).splitlines()[0]
        raise InvalidPluginHooks(f"ValueError: {detail}") from exc

    unknown = _unknown_hooks(pm, plugin)
    if unknown:
        pm.unregister(plugin=plugin)
        raise InvalidPluginHooks("; ".join(_describe_unknown_hook(pm, hook) for hook in unknown))
    return _unmarked_hook_functions(pm, plugin)


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Hooks this plugin implements that have no specification (and are not marked optional)."""
    unknown = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        if any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls()):
            unknown.append(caller.name)
    return sorted(unknown)


def _describe_unknown_hook(pm: pluggy.PluginManager, hook: str) -> str:
    known = hook_names(pm)
    close = closest_names(hook, known)
    hint = f"did you mean {close[0]!r}?" if close else f"known hooks: {', '.join(known)}"
    return f"unknown hook {hook!r} ({hint})"


def _describe_validation_error(pm: pluggy.PluginManager, plugin: Any, exc: pluggy.PluginValidationError) -> str:
    """pluggy's multi-line message on one line, plus the arguments the specifications offer.

    Which hooks do not fit is found by comparing the plugin's implementations with the
    specifications, not by reading pluggy's message (its wording is not an interface).
    """
    message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    for caller in _mismatched_hook_callers(pm, plugin):
        argnames = caller.spec.argnames if caller.spec is not None else ()
        message += f"; the hook specification is {caller.name}({', '.join(argnames)})"
    return message


def _mismatched_hook_callers(pm: pluggy.PluginManager, plugin: Any) -> list[pluggy.HookCaller]:
    """The specified hooks whose implementation in `plugin` asks for an argument the spec lacks."""
    mismatched = []
    for name in dir(plugin):
        if not name.startswith(HOOK_PREFIX) or pm.parse_hookimpl_opts(plugin, name) is None:
            continue
        caller = getattr(pm.hook, name, None)
        if caller is None or caller.spec is None:
            continue
        try:
            asked = list(inspect.signature(getattr(plugin, name)).parameters)
        except (TypeError, ValueError):
            continue
        if any(argument not in caller.spec.argnames for argument in asked):
            mismatched.append(caller)
    return mismatched


def _unmarked_hook_functions(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Functions named exactly like a hook but lacking ``@hookimpl``: pluggy ignores them, which
    is almost always a forgotten decorator."""
    implemented = {caller.name for caller in pm.get_hookcallers(plugin) or []}
    problems = []
    for hook in hook_names(pm):
        if hook in implemented:
            continue
        try:
            attribute = inspect.getattr_static(plugin, hook)
        except AttributeError:
            continue
        if callable(attribute) or isinstance(attribute, (staticmethod, classmethod)):
            problems.append(f"{hook} is not marked with @{PROJECT_NAME}.hookimpl and is ignored")
    if not implemented and not problems:
        problems.append(f"implements no {HOOK_PREFIX}* hook (is @{PROJECT_NAME}.hookimpl missing?)")
    return problems
