"""AutoDeploy's known transform keys: facts read from a data file shipped in the package.

A config copied from AutoDeploy names transforms that no installed plugin may provide (FP8 and
FP4 fusions, MoE kernels, ...). Such a key is not a typo: the user needs to hear "AutoDeploy has
this, nothing installed here provides it, and it needs CUDA kernels", not "did you mean ...?".
The facts (key, stage, CUDA-only, purpose, and the order of AutoDeploy's mode presets) live in
``data/autodeploy_transforms.json`` so that the list grows by editing data, not code.
Torch-free; read once per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Optional

DATA_FILE = "autodeploy_transforms.json"


@dataclass(frozen=True)
class KnownTransform:
    """One of AutoDeploy's transform keys: where it runs and whether it needs CUDA-only kernels."""

    key: str
    stage: str
    cuda: bool
    purpose: str

    def unavailable_message(self) -> str:
        """What to tell a user whose config names this key while no installed plugin provides it."""
        needs = "; it needs CUDA kernels" if self.cuda else ""
        return f"AutoDeploy transform `{self.key}` ({self.stage}): no installed plugin provides it{needs}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "stage": self.stage, "cuda": self.cuda, "purpose": self.purpose}


@dataclass(frozen=True)
class Catalogue:
    """Every known AutoDeploy key, and the key order of AutoDeploy's mode presets."""

    transforms: dict[str, KnownTransform]
    presets: dict[str, tuple[str, ...]]

    def get(self, key: str) -> Optional[KnownTransform]:
        return self.transforms.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self.transforms

    def preset_position(self, mode: str, key: str) -> Optional[int]:
        """Where `key` stands in AutoDeploy's preset `mode` (None when it is not in it)."""
        order = self.presets.get(mode, ())
        return order.index(key) if key in order else None


@cache
def autodeploy_catalogue() -> Catalogue:
    """The catalogue of the installed package (read once)."""
    text = resources.files("autodeploy").joinpath("data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    transforms = {
        item["key"]: KnownTransform(
            key=item["key"], stage=item["stage"], cuda=bool(item.get("cuda", False)), purpose=item.get("purpose", "")
        )
        for item in data["transforms"]
    }
    presets = {mode: tuple(keys) for mode, keys in data.get("presets", {}).items()}
    return Catalogue(transforms=transforms, presets=presets)


def order_like_autodeploy(mode: str, entries: dict[str, Any]) -> dict[str, Any]:
    """`entries` (a mode preset: key -> entry) reordered as AutoDeploy's preset `mode` orders them.

    Keys AutoDeploy's preset does not have keep their relative order, after those it has; the
    pipeline is ordered by stage later, so this only decides the order within a stage.
    """
    catalogue = autodeploy_catalogue()
    positions = {key: catalogue.preset_position(mode, key) for key in entries}
    unknown = len(catalogue.presets.get(mode, ()))
    ordered = sorted(
        enumerate(entries),
        key=lambda item: (positions[item[1]] if positions[item[1]] is not None else unknown, item[0]),
    )
    return {key: entries[key] for _, key in ordered}
