"""``--set key.path=value`` overrides: parsing them and checking where they land.

Overrides are the last layer of a pipeline config. The value is read as YAML (``true``, ``3``,
``[1, 2]``, ``{a: 1}``, ``null``), so a command line says exactly what a YAML file would.
An override may change or add a field of a transform entry that the config already has; it may
not invent a transform entry (``transforms.<typo>``) or walk through a value that is not a
mapping, because such an override would silently configure nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..mappings import deep_merge
from .suggestions import suggestion
from .validation_messages import yaml_type_name
from .yaml_loading import parse_yaml

TRANSFORMS_KEY = "transforms"


@dataclass(frozen=True)
class Override:
    """One parsed ``--set``: the dotted path split into keys, and the YAML-parsed value."""

    text: str
    path: tuple[str, ...]
    value: Any

    @property
    def source(self) -> str:
        """How error messages name this override: as the user typed it."""
        return f"--set {self.text}"

    @property
    def dotted_path(self) -> str:
        return ".".join(self.path)


def parse_override(text: str) -> Override:
    """Parse ``key.path=value``; the value is a YAML scalar or flow collection."""
    source = f"--set {text}"
    key_text, sep, value_text = text.partition("=")
    if not sep:
        raise ConfigError("expected KEY.PATH=VALUE, e.g. transforms.build_model.device=cpu", source=source)
    path = tuple(part.strip() for part in key_text.split("."))
    if not key_text.strip() or any(not part for part in path):
        raise ConfigError(
            f"{key_text.strip()!r} is not a dotted key path such as transforms.build_model.device", source=source
        )
    value = parse_yaml(value_text, source=source)
    return Override(text=text, path=path, value=value)


def override_layer(config: Mapping[str, Any], override: Override) -> dict[str, Any]:
    """The override as a nested mapping to deep-merge into `config`, after checking its path."""
    _check_path(config, override)
    layer: Any = override.value
    for key in reversed(override.path):
        layer = {key: layer}
    return layer


def apply_override(config: Mapping[str, Any], override: Override) -> dict[str, Any]:
    """A copy of `config` with `override` deep-merged in (other fields of an entry are kept)."""
    return deep_merge(config, override_layer(config, override))


def _check_path(config: Mapping[str, Any], override: Override) -> None:
    path = override.path
    in_transforms = path[0] == TRANSFORMS_KEY and len(path) > 1
    node: Any = config
    for depth, key in enumerate(path):
        if not isinstance(node, Mapping):
            parent = ".".join(path[:depth])
            raise ConfigError(
                f"{parent!r} is a {yaml_type_name(node)} ({node!r}), not a mapping, so it has no key {key!r}",
                source=override.source,
                path=override.dotted_path,
            )
        if key in node:
            node = node[key]
            continue
        if in_transforms and depth <= 1:
            entry = path[1]
            entries = node if depth == 1 else {}
            raise ConfigError(
                f"the config has no transform entry {entry!r} to override ({suggestion(entry, entries)}); "
                "--set changes existing entries, add new ones in a YAML file",
                source=override.source,
                path=override.dotted_path,
            )
        if depth == len(path) - 1:
            return  # a new last key: adding a field is allowed
        if in_transforms:
            raise ConfigError(
                f"{'.'.join(path[:depth])!r} has no key {key!r} ({suggestion(key, node)})",
                source=override.source,
                path=override.dotted_path,
            )
        return  # outside `transforms` missing mappings are created (model_kwargs.x=1)
