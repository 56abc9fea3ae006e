"""``autodeploy new-plugin``: a plugin distribution that installs, lists and passes its tests.

The scaffold is the shortest path from nothing to a working plugin: one transform with its
config, the entry point, the core version range, and tests using `autodeploy.testing`.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from .._version import __version__
from ..atomic import atomic_write_text
from .names import PluginNames, ScaffoldError, core_requirement
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


def scaffold_plugin(name: str, parent: Path) -> Path:
    """Write a new plugin named `name` into ``parent/autodeploy-plugin-<name>``; return that folder.

    Refuses (`ScaffoldError`) to write into a folder that exists and is not empty: nothing of the
    user's is ever overwritten.
    """
    names = PluginNames.from_name(name)
    target = parent / names.distribution
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target}: already exists and is not empty; choose another --dir or name")
    for relative, text in render_plugin_files(names).items():
        atomic_write_text(target / relative, text)
    return target


__all__ = ["PluginNames", "ScaffoldError", "core_requirement", "render_plugin_files", "scaffold_plugin"]
