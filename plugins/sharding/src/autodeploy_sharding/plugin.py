"""Entry point of the plugin: registers the sharding stage's transforms and their preset entries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autodeploy import hookimpl

from .transforms import DetectSharding, ShardingTransformExecutor

PRESET_ENTRIES: dict[str, dict[str, Any]] = {
    "detect_sharding": {"stage": "sharding"},
    "sharding_transform_executor": {"stage": "sharding", "run_shape_prop": True},
}


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    register("detect_sharding", DetectSharding)
    register("sharding_transform_executor", ShardingTransformExecutor)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    register("graph", {key: dict(entry) for key, entry in PRESET_ENTRIES.items()})
