"""``list-transforms --autodeploy``: which of AutoDeploy's transform keys the installed plugins provide."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..catalogue import KnownTransform, autodeploy_catalogue
from .output import EMPTY_CELL, format_table, write_json, write_text

if TYPE_CHECKING:
    from ..plugin import PluginHost


@dataclass(frozen=True)
class Coverage:
    """AutoDeploy's keys split into those an installed plugin provides and those none does."""

    provided: list[tuple[KnownTransform, str]]
    unavailable: list[KnownTransform]

    @property
    def known(self) -> int:
        return len(self.provided) + len(self.unavailable)

    def summary(self) -> str:
        cuda = sum(known.cuda for known in self.unavailable)
        return (
            f"AutoDeploy transforms: {self.known} known, {len(self.provided)} provided, "
            f"{len(self.unavailable)} unavailable ({cuda} of them need CUDA kernels)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "known": self.known,
            "provided": [{**known.to_dict(), "provided_by": by} for known, by in self.provided],
            "unavailable": [known.to_dict() for known in self.unavailable],
        }


def autodeploy_coverage(host: PluginHost) -> Coverage:
    installed = host.transforms()
    provided: list[tuple[KnownTransform, str]] = []
    unavailable: list[KnownTransform] = []
    for key, known in autodeploy_catalogue().transforms.items():
        provider = installed.get(key)
        if provider is None:
            unavailable.append(known)
        else:
            provided.append((known, provider.plugin.distribution or provider.plugin.name))
    return Coverage(provided=provided, unavailable=unavailable)


def print_coverage(host: PluginHost, *, as_json: bool, stage: Optional[str]) -> int:
    coverage = autodeploy_coverage(host)
    if as_json:
        write_json({**coverage.to_dict(), "summary": coverage.summary()})
        return 0
    by_key = {known.key: by for known, by in coverage.provided}
    rows = [
        (known.key, known.stage, "yes" if known.cuda else EMPTY_CELL, by_key.get(known.key, "unavailable"))
        for known in autodeploy_catalogue().transforms.values()
        if stage is None or known.stage == stage
    ]
    write_text(format_table(("KEY", "STAGE", "CUDA", "PROVIDED BY"), rows))
    write_text(coverage.summary())
    return 0
