"""Which installed plugins the host may load, as chosen by the user.

Loading third-party code must be steerable without editing anything: an environment variable or
a CLI flag can turn autoloading off, restrict it to an allow list, block a plugin (the way to pick
one of two plugins that register the same key) or make every plugin problem fatal (CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

from packaging.utils import canonicalize_name

DISABLE_AUTOLOAD_VAR = "AUTODEPLOY_DISABLE_PLUGIN_AUTOLOAD"
ALLOW_VAR = "AUTODEPLOY_PLUGINS"
BLOCK_VAR = "AUTODEPLOY_BLOCK_PLUGINS"
STRICT_VAR = "AUTODEPLOY_STRICT_PLUGINS"

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def _is_true(value: Optional[str]) -> bool:
    return value is not None and value.strip().lower() in _TRUE_WORDS


def _split_names(value: Optional[str]) -> frozenset[str]:
    """`a, b,,c` -> {a, b, c}: users type lists by hand, so spaces and empty items are forgiven."""
    if not value:
        return frozenset()
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _normalise(name: str) -> str:
    # Entry-point names and distribution names are both compared the packaging way, so that
    # `autodeploy_foo`, `autodeploy-foo` and `Autodeploy.Foo` all name the same plugin.
    return canonicalize_name(name)


@dataclass(frozen=True)
class PluginControls:
    """The user's choices about loading installed plugins (entry points).

    Names in `allow` and `block` match an entry-point name or a distribution name. The controls
    apply to installed plugins only: an in-process `PluginHost.register` is an explicit choice
    of the caller and is never filtered.
    """

    autoload: bool = True
    allow: Optional[frozenset[str]] = None
    block: frozenset[str] = frozenset()
    strict: bool = False

    @classmethod
    def from_env(
        cls,
        environ: Optional[Mapping[str, str]] = None,
        *,
        block: Iterable[str] = (),
        strict: Optional[bool] = None,
    ) -> PluginControls:
        """Read the controls from the environment; `block` adds the CLI's ``-p no:NAME`` names and
        `strict` (when not None) overrides ``AUTODEPLOY_STRICT_PLUGINS``."""
        env = os.environ if environ is None else environ
        allow = _split_names(env.get(ALLOW_VAR))
        return cls(
            autoload=not _is_true(env.get(DISABLE_AUTOLOAD_VAR)),
            allow=allow or None,
            block=frozenset(name.strip() for name in block if name.strip()) | _split_names(env.get(BLOCK_VAR)),
            strict=_is_true(env.get(STRICT_VAR)) if strict is None else strict,
        )

    def refusal(self, entry_point_name: str, distribution: Optional[str]) -> Optional[str]:
        """Why this plugin must not be loaded (blocked / not allowed), or None when it may be."""
        names = {_normalise(entry_point_name)}
        if distribution:
            names.add(_normalise(distribution))
        blocked_by = sorted(name for name in self.block if _normalise(name) in names)
        if blocked_by:
            return f"blocked by {blocked_by[0]!r} (-p no:NAME or {BLOCK_VAR})"
        if self.allow is not None and not any(_normalise(name) in names for name in self.allow):
            return f"not in the allow list {ALLOW_VAR}={','.join(sorted(self.allow))}"
        return None

    def unmatched_names(self, seen: Iterable[tuple[str, Optional[str]]]) -> list[str]:
        """Allow/block names that match no installed plugin: usually a typo worth reporting.

        `seen` holds (entry-point name, distribution name) of every plugin found.
        """
        known: set[str] = set()
        for entry_point_name, distribution in seen:
            known.add(_normalise(entry_point_name))
            if distribution:
                known.add(_normalise(distribution))
        messages = []
        for name in sorted(self.allow or ()):
            if _normalise(name) not in known:
                messages.append(f"{ALLOW_VAR} names {name!r}, which matches no installed plugin")
        for name in sorted(self.block):
            if _normalise(name) not in known:
                messages.append(f"the block list names {name!r}, which matches no installed plugin")
        return messages
