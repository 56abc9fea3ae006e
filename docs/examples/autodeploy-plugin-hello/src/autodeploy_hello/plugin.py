"""Hook implementations: what this plugin gives autodeploy.

The entry point in pyproject.toml names this module. Importing it must stay cheap (no torch here
or in what it imports at module level): every `list-transforms` imports it.
"""

from typing import Any, Callable, Mapping

from autodeploy import hookimpl

KEY = "hello"


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    """Register the transform under its key: the name configs, modes and docs use."""
    from .transform import Hello

    register(KEY, Hello)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """Add the transform to the preset pipelines (``enabled: false`` in a config turns it off)."""
    entry = {"stage": "visualize", "run_per_gm": False}
    register("graph", {KEY: dict(entry)})
    register("transformers", {KEY: dict(entry)})
