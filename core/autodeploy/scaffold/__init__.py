"""``autodeploy new-plugin``: a plugin distribution that installs, lists and passes its tests.

The scaffold is the shortest path from nothing to a working plugin: one transform with its
config, the entry point, the core version range, and tests using `autodeploy.testing`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from string import Template
from typing import Optional

from .._version import __version__
from .names import PluginNames, ScaffoldError, core_requirement
from .staging import write_tree_atomically
from .templates import FILES


def render_plugin_files(names: PluginNames, core_version: str = __version__) -> dict[str, str]:
    """Relative path -> text of every file of the new plugin."""
    values = {
        "key": names.key,
        "distribution": names.distribution,
        "package": names.package,
        "class_name": names.class_name,
        "config_class_name": names.config_class_name,
        "core_requirement": core_requirement(core_version),
    }
    return {Template(path).substitute(values): template.substitute(values) for path, template in FILES.items()}


def scaffold_plugin(name: str, parent: Path, taken_keys: Optional[Mapping[str, str]] = None) -> Path:
    """Write a new plugin named `name` into ``parent/autodeploy-plugin-<name>``; return that folder.

    Refuses (`ScaffoldError`) to write into a folder that exists and is not empty: nothing of the
    user's is ever overwritten. The plugin appears whole or not at all (see `write_tree_atomically`):
    an interrupted run leaves nothing that would make the next one refuse. `taken_keys` maps the
    transform keys installed plugins provide to their distribution: a name among them is refused,
    since the two plugins would conflict once the new one is installed.
    """
    names = PluginNames.from_name(name)
    check_not_installed(names)
    check_key_not_taken(names, taken_keys or {})
    return write_tree_atomically(parent / names.distribution, render_plugin_files(names))


def check_key_not_taken(names: PluginNames, taken_keys: Mapping[str, str]) -> None:
    """Refuse a transform key that an installed plugin already provides (named in the error)."""
    provider = taken_keys.get(names.key)
    if provider is None:
        return
    raise ScaffoldError(
        f"transform key {names.key!r} is already provided by {provider} (installed); the new plugin "
        "would conflict with it and neither would be usable. Choose another name (a new key), or, to "
        f"replace {provider}'s transform, uninstall or disable it (-p no:{provider}) first"
    )


def check_not_installed(names: PluginNames) -> None:
    """Refuse a plugin whose import package is importable here already (``hf`` makes
    ``autodeploy_hf``, the first-party hf plugin's): installed, one would shadow the other."""
    try:
        spec = importlib.util.find_spec(names.package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return
    where = spec.origin or next(iter(spec.submodule_search_locations or ()), None) or "an installed package"
    raise ScaffoldError(
        f"plugin name {names.key!r} would make the package {names.package!r}, which is already installed "
        f"({where}); choose another name"
    )


__all__ = [
    "PluginNames",
    "ScaffoldError",
    "check_key_not_taken",
    "check_not_installed",
    "core_requirement",
    "render_plugin_files",
    "scaffold_plugin",
]
