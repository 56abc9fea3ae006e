"""Every name of a new plugin, derived from the one name its author chose.

The distribution, import package, entry point, transform key and classes must agree with each
other and with the project's conventions (``autodeploy-plugin-<x>``, ``autodeploy_<x>``); deriving
them all from one name keeps them agreeing.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from .._version import __version__
from ..errors import AutodeployError
from ..naming import title_from_key
from .reserved import template_names

DISTRIBUTION_PREFIX = "autodeploy-plugin-"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
MAX_NAME_LENGTH = 64
"""Longest plugin name accepted. The files made from it (``autodeploy-plugin-NAME``,
``test_NAME_transform.py`` and their hidden temporary names, 32 characters longer) must fit the
255 bytes a file name may have; AutoDeploy's own transform keys are under 40 characters."""
_SHOWN = 24  # characters of a refused long name quoted in the message


class ScaffoldError(AutodeployError):
    """A new plugin cannot be made as asked (bad name, target folder in the way)."""


@dataclass(frozen=True)
class PluginNames:
    """``hello`` -> key ``hello``, ``autodeploy-plugin-hello``, ``autodeploy_hello``, ``Hello``."""

    key: str

    @classmethod
    def from_name(cls, name: str) -> PluginNames:
        """Accept ``hello``, ``my-pass``, ``my_pass`` or a full ``autodeploy-plugin-my-pass``."""
        raw = name.strip()
        if raw.lower().startswith(DISTRIBUTION_PREFIX):
            raw = raw[len(DISTRIBUTION_PREFIX) :]
        if len(raw) > MAX_NAME_LENGTH:
            raise ScaffoldError(
                f"plugin name {raw[:_SHOWN] + '...'!r} is {len(raw)} characters long; at most {MAX_NAME_LENGTH} are "
                "accepted (the plugin's file names are made from it and must fit the file system)"
            )
        if not _NAME.match(raw):
            raise ScaffoldError(
                f"plugin name {name!r} is not usable: start with a letter, then letters, digits, '-' or '_' "
                "(e.g. 'fuse_rmsnorm')"
            )
        key = re.sub(r"[-_]+", "_", raw.lower()).strip("_")
        if keyword.iskeyword(key):
            raise ScaffoldError(f"plugin name {name!r} is a Python keyword; choose another")
        names = cls(key=key)
        names.check_class_names(name)
        return names

    def check_class_names(self, given: str) -> None:
        """Refuse a name whose classes the generated code could not define: a keyword once
        capitalised (``none`` -> ``None``), or a name the generated modules already use
        (``transform_info`` -> ``TransformInfo``, which they import)."""
        for class_name in (self.class_name, self.config_class_name):
            if keyword.iskeyword(class_name):
                raise ScaffoldError(
                    f"plugin name {given!r} would name its class {class_name!r}, a Python keyword; "
                    f"choose another{self._example()}"
                )
            if class_name in template_names():
                raise ScaffoldError(
                    f"plugin name {given!r} would name a class {class_name!r}, which the generated code already "
                    f"imports or defines; choose another{self._example()}"
                )

    def _example(self) -> str:
        other = f"{self.key}_pass"
        return f" (e.g. {other!r})" if len(other) <= MAX_NAME_LENGTH else ""

    @property
    def distribution(self) -> str:
        return DISTRIBUTION_PREFIX + self.key.replace("_", "-")

    @property
    def package(self) -> str:
        return f"autodeploy_{self.key}"

    @property
    def class_name(self) -> str:
        return title_from_key(self.key).replace(" ", "")

    @property
    def config_class_name(self) -> str:
        return f"{self.class_name}Config"


def core_requirement(core_version: str = __version__) -> str:
    """The core range a new plugin declares: this release series, up to the next one.

    While the core is 0.x a minor release may change the plugin contract (``>=0.1,<0.2``); from
    1.0 on only a major release may (``>=1.2,<2``).
    """
    parts = [int(part) for part in re.findall(r"\d+", core_version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"autodeploy-core>={major}.{minor},<{upper}"
