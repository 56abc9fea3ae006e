"""Where each value of a merged config came from.

A pipeline config is merged from several layers (a mode preset, Python data, YAML files,
``--set`` overrides). Validation runs on the merged result, but an error must name the layer
the user has to edit: this map remembers, for every path, which layer set it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

ConfigPath = tuple[str, ...]


class SourceMap:
    """For every path of a merged config, the name of the layer that set it.

    A leaf belongs to the last layer that set it. A mapping belongs to the layer that created
    it: a later layer overriding one field of an entry does not own the entry's missing fields.
    """

    def __init__(self) -> None:
        self._origins: dict[ConfigPath, str] = {}
        self._layers: list[str] = []

    def record_layer(self, merged: Mapping[str, Any], layer: Mapping[str, Any], source: str) -> None:
        """Note what `layer` sets; call it before deep-merging `layer` into `merged`."""
        if source not in self._layers:
            self._layers.append(source)
        self._record(merged, layer, source, ())

    def set_source(self, path: Sequence[Any], source: str) -> None:
        """Note that `source` set `path` (a value derived from another setting, e.g. a shortcut)."""
        if source not in self._layers:
            self._layers.append(source)
        self._origins[tuple(str(part) for part in path)] = source

    def source_of(self, path: Sequence[Any]) -> Optional[str]:
        """The layer that set `path`, or else the one that set its closest recorded parent."""
        parts = tuple(str(part) for part in path)
        for length in range(len(parts), 0, -1):
            origin = self._origins.get(parts[:length])
            if origin is not None:
                return origin
        return None

    def sources_under(self, path: Sequence[Any]) -> list[str]:
        """Every layer that set `path` or something below it, lowest layer first."""
        parts = tuple(str(part) for part in path)
        depth = len(parts)
        found = {origin for recorded, origin in self._origins.items() if recorded[:depth] == parts}
        return [layer for layer in self._layers if layer in found]

    def _record(self, merged: Any, layer: Mapping[str, Any], source: str, prefix: ConfigPath) -> None:
        for key, value in layer.items():
            path = (*prefix, str(key))
            existing = merged.get(key) if isinstance(merged, Mapping) else None
            if isinstance(value, Mapping) and isinstance(existing, Mapping):
                self._record(existing, value, source, path)  # merged into: keeps its creator
                continue
            self._forget_below(path)  # replaced whole: what was below it is gone
            self._origins[path] = source
            if isinstance(value, Mapping):
                self._record({}, value, source, path)

    def _forget_below(self, path: ConfigPath) -> None:
        depth = len(path)
        for recorded in [p for p in self._origins if len(p) > depth and p[:depth] == path]:
            del self._origins[recorded]
