"""Reading YAML configs safely, with errors that point at the file, line and column.

Configs come from users and from the internet (copied examples), so they are loaded with
PyYAML's safe loader only: a tag that would construct a Python object is refused, never run.
On top of the safe loader we refuse duplicate keys, which plain YAML silently resolves by
keeping the last one (a transform entry written twice would lose its first half unnoticed).

A small file can still describe a huge or endless value: anchors and aliases let 30 lines expand
into a billion entries ("billion laughs"), an alias inside its own anchor makes a value that
contains itself, and deeply nested brackets exhaust the parser's recursion. Merging and
validating such a value would hang or crash with a traceback, so the loader measures the value
before building it and refuses one nested deeper than `MAX_NESTING` or, with aliases expanded,
larger than `MAX_VALUES` entries.

Parsing itself is bounded too. PyYAML's pure-Python parser (the only one whose errors we can
word well) reads some ten thousand values a second on a busy machine, so a file of a few
megabytes of ``[0, 0, 0, ...]`` would keep it busy for minutes and gigabytes before any check
saw the result. Pipeline configs are a few kilobytes and a few hundred values: files over
`MAX_CONFIG_BYTES` are refused unread, and the composer counts values as they come and stops at
`MAX_NODES`, whatever the text (a ``--set`` value has no file size).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ..errors import ConfigError
from .validation_messages import yaml_type_name

MAX_CONFIG_BYTES = 128 * 1024
"""Largest config file we read: pipeline configs are a few KiB (AutoDeploy's default.yaml, every
transform of the pipeline, is under 8 KiB); a file this big is a wrong path or not a config."""

MAX_NODES = 10_000
"""Most keys, values and list items parsed from one YAML text (aliases not expanded): a config of
every AutoDeploy transform holds under a thousand. Parsing stops as soon as a text exceeds it."""

MAX_NESTING = 64
"""Deepest nesting of mappings and lists accepted (a pipeline config needs fewer than ten levels)."""

MAX_VALUES = 100_000
"""Most keys and values a config may hold once its aliases are expanded."""

_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
_MERGE_TAG = f"{_YAML_TAG_PREFIX}merge"
_UNKNOWN_TAG_PROBLEM = "could not determine a constructor for the tag"

PathLike = Union[str, "os.PathLike[str]"]


class _ValueTooComplex(yaml.YAMLError):
    """A document whose value nests too deeply, is too large once expanded, or contains itself."""

    def __init__(self, problem: str, mark: yaml.Mark):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _UniqueKeySafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader (no Python object construction) that also refuses duplicate keys and
    values that nest too deeply, contain themselves or expand beyond `MAX_VALUES` entries."""

    def __init__(self, stream: Union[str, bytes]):
        super().__init__(stream)
        self._nesting = 0
        self._nodes = 0
        self.saw_alias = False

    def compose_node(self, parent: Optional[yaml.Node], index: Any) -> yaml.Node:
        # composing recurses once per level: stop before Python's recursion limit does
        if self._nesting >= MAX_NESTING:
            raise _ValueTooComplex(f"values nest deeper than {MAX_NESTING} levels", self.peek_event().start_mark)
        # one call per value, key or alias as the parser reads it: stop a huge text early
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _ValueTooComplex(
                f"the text holds more than {MAX_NODES} keys and values (pipeline configs hold a few hundred); "
                "parsing stopped here",
                self.peek_event().start_mark,
            )
        if self.check_event(yaml.AliasEvent):
            self.saw_alias = True
        self._nesting += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's own constructors raise plain Python errors for an explicit tag on a value that
        # does not fit it (`!!int abc`, `!!bool maybe`, `!!timestamp x`): give them a place
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError) as exc:
            tag = str(node.tag).replace(_YAML_TAG_PREFIX, "!!")
            value = node.value if isinstance(node, yaml.ScalarNode) else f"a {node.id}"
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {value!r} as {tag} ({type(exc).__name__}: {exc})", node.start_mark
            ) from None

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        check_expanded_size(node, aliases=self.saw_alias)
        return self.construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # `!!set a`, `!!map [1]`: the base class says what is wrong
            return super().construct_mapping(node, deep=deep)
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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expanded_size(root: yaml.Node, *, aliases: bool = True) -> None:
    """Refuse a composed document that contains itself, or that expanded (aliases followed) nests
    deeper than `MAX_NESTING` or holds more than `MAX_VALUES` nodes.

    Aliases make the node tree a graph whose expansion can be exponential in the file's size; the
    walk visits every node once (sizes and depths are memoised) and needs no recursion.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()  # nodes whose children are being measured: the current path
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_measured = stack.pop()
        node_id = id(node)
        if children_measured:
            open_nodes.discard(node_id)
            children = _children(node)
            sizes[node_id] = 1 + sum(sizes[id(child)] for child in children)
            depths[node_id] = 1 + max((depths[id(child)] for child in children), default=0)
            if depths[node_id] > MAX_NESTING:
                raise _ValueTooComplex(
                    f"with its aliases followed, this value nests deeper than {MAX_NESTING} levels", node.start_mark
                )
            if sizes[node_id] > MAX_VALUES:
                followed = "with its aliases followed, " if aliases else ""
                bomb = " (an alias bomb?)" if aliases else ""
                raise _ValueTooComplex(
                    f"{followed}this value holds more than {MAX_VALUES} entries{bomb}", node.start_mark
                )
            continue
        if node_id in sizes:
            continue
        if node_id in open_nodes:
            raise _ValueTooComplex(
                "an alias refers to a value that contains it (a value cannot contain itself)", node.start_mark
            )
        open_nodes.add(node_id)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise _ValueTooComplex(
                    "an alias refers to a value that contains it (a value cannot contain itself)", child.start_mark
                )
            if id(child) not in sizes:
                stack.append((child, False))


def parse_yaml(text: Union[str, bytes], *, source: str) -> Any:
    """Parse YAML text safely; any problem becomes a `ConfigError` naming `source`, line and column."""
    try:
        return yaml.load(text, Loader=_UniqueKeySafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(_describe_yaml_error(exc), source=source) from None
    except RecursionError:  # the limits above should prevent it; never show a traceback for it
        raise ConfigError(
            f"values nest too deeply (more than {MAX_NESTING} levels are refused)", source=source
        ) from None


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
                f"the file is {_kib(size)}; config files are limited to {_kib(MAX_CONFIG_BYTES)} "
                "(pipeline configs are a few KiB)",
                source=source,
            )
        with path.open("rb") as stream:
            content = stream.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("no such file", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    if len(content) > MAX_CONFIG_BYTES:  # grew since stat, or a special file
        raise ConfigError(
            f"the file is larger than {_kib(MAX_CONFIG_BYTES)}, the limit for config files", source=source
        )
    return content


def _kib(size: int) -> str:
    """``131072`` -> ``128 KiB``, ``643072`` -> ``628 KiB``, ``10000000`` -> ``9.5 MiB``."""
    value, unit = (size / 1024**2, "MiB") if size >= 1024**2 else (size / 1024, "KiB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"not readable as text: {exc.reason} at byte {exc.position}"
    if isinstance(exc, _ValueTooComplex):
        return f"{where}{exc.problem}"
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
