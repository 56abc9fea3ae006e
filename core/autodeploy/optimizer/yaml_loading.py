"""Reading YAML configs safely, with errors that point at the file, line and column.

Configs come from users and from the internet (copied examples), so they are loaded with
PyYAML's safe loader only: a tag that would construct a Python object is refused, never run.
On top of the safe loader we refuse duplicate keys, which plain YAML silently resolves by
keeping the last one (a transform entry written twice would lose its first half unnoticed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

import yaml

from ..errors import ConfigError
from .validation_messages import yaml_type_name

MAX_CONFIG_BYTES = 10 * 1024 * 1024
"""Largest config file we read: pipeline configs are a few KB; anything this big is a wrong path."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_UNKNOWN_TAG_PROBLEM = "could not determine a constructor for the tag"

PathLike = Union[str, "os.PathLike[str]"]


class _UniqueKeySafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader (no Python object construction) that also refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *anchor` merges may be overridden explicitly
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                previous = first_seen.get(key)
            except TypeError:  # unhashable key: the base class reports it
                continue
            if previous is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first defined at line {previous.line + 1})",
                    key_node.start_mark,
                )
            first_seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: Union[str, bytes], *, source: str) -> Any:
    """Parse YAML text safely; any problem becomes a `ConfigError` naming `source`, line and column."""
    try:
        return yaml.load(text, Loader=_UniqueKeySafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(_describe_yaml_error(exc), source=source) from None


def load_config_file(path: PathLike) -> dict[str, Any]:
    """Read a YAML config file whose top level is a mapping (an empty file is an error)."""
    source = os.fspath(path)
    data = parse_yaml(_read_limited(Path(source), source), source=source)
    if data is None:
        raise ConfigError("the file is empty (expected a mapping such as `transforms: {...}`)", source=source)
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping of settings (such as `transforms:`), got a {yaml_type_name(data)}",
            source=source,
        )
    not_names = [key for key in data if not isinstance(key, str)]
    if not_names:
        raise ConfigError(f"top-level keys must be names, got {not_names[0]!r}", source=source)
    return data


def _read_limited(path: Path, source: str) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ConfigError("is a directory, not a YAML file", source=source)
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"the file is {size / 1e6:.1f} MB; config files are limited to {MAX_CONFIG_BYTES / 1e6:.0f} MB",
                source=source,
            )
        with path.open("rb") as stream:
            content = stream.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("no such file", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    if len(content) > MAX_CONFIG_BYTES:  # grew since stat, or a special file
        raise ConfigError(f"the file is larger than {MAX_CONFIG_BYTES / 1e6:.0f} MB", source=source)
    return content


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"not readable as text: {exc.reason} at byte {exc.position}"
    problem = getattr(exc, "problem", None)
    if problem is None:
        return f"invalid YAML: {exc}"
    if problem.startswith(_UNKNOWN_TAG_PROBLEM):
        tag = problem[len(_UNKNOWN_TAG_PROBLEM) :].strip()
        if "python/" in tag:
            return (
                f"{where}the YAML tag {tag} would construct a Python object; configs are loaded safely "
                "and such tags are refused"
            )
        return f"{where}unknown YAML tag {tag}; configs use plain YAML values only"
    context = getattr(exc, "context", None)
    return f"{where}invalid YAML: {problem}" + (f" ({context})" if context else "")
