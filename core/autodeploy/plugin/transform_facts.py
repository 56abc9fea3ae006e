"""What the listings say about a transform: its stages and modes (from the mode presets that
configure it) and who provides it. Shared by ``list-transforms``, ``show`` and the docs generator.

Part of the plugin layer (it reads only the host), so the CLI and the docs both build on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..stages import Stages

if TYPE_CHECKING:
    from .host import PluginHost
    from .registry import Provider


@dataclass(frozen=True)
class TransformFacts:
    """One transform as listings show it."""

    key: str
    stages: tuple[str, ...]
    modes: tuple[str, ...]
    plugin: str
    distribution: Optional[str]
    version: Optional[str]
    module: str
    class_name: str

    @property
    def sort_key(self) -> tuple[int, str]:
        """By first stage (transforms no mode configures last), then key."""
        ranks = [Stages(stage).rank for stage in self.stages if stage in _STAGE_VALUES]
        return (min(ranks) if ranks else len(Stages), self.key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "stages": list(self.stages),
            "modes": list(self.modes),
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "class": self.class_name,
        }


_STAGE_VALUES = {stage.value for stage in Stages}


def transform_facts(host: PluginHost) -> list[TransformFacts]:
    """Facts for every usable transform, sorted by stage then key."""
    modes = host.modes()
    facts = [_facts_for(key, provider, modes) for key, provider in host.transforms().items()]
    return sorted(facts, key=lambda fact: fact.sort_key)


def facts_for(host: PluginHost, key: str) -> TransformFacts:
    """Facts for one transform; `UnknownTransformError`/`PluginError` (from the host) otherwise."""
    host.transform_class(key)  # raises the host's helpful error for unknown or unusable keys
    return _facts_for(key, host.transforms()[key], host.modes())


def _facts_for(key: str, provider: Provider, modes: dict[str, dict[str, dict[str, Any]]]) -> TransformFacts:
    configured_in = [mode for mode, entries in modes.items() if key in entries]
    stages: list[str] = []
    for mode in configured_in:
        stage = modes[mode][key].get("stage")
        if stage is not None and str(getattr(stage, "value", stage)) not in stages:
            stages.append(str(getattr(stage, "value", stage)))
    stages.sort(key=lambda value: Stages(value).rank if value in _STAGE_VALUES else len(Stages))
    cls = provider.obj
    return TransformFacts(
        key=key,
        stages=tuple(stages),
        modes=tuple(configured_in),
        plugin=provider.plugin.name,
        distribution=provider.plugin.distribution,
        version=provider.plugin.version,
        module=cls.__module__,
        class_name=cls.__qualname__,
    )
