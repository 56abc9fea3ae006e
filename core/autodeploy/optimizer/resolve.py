"""One call from config layers to a validated, ordered pipeline, with every problem reported at once.

``validate``, ``run`` and `InferenceOptimizer` all go through `resolve_pipeline`, so a config
(an override file, say) validates exactly when it runs: same mode default, same top-level
options, same checks. The problems of the layers (top-level settings, the mode) and those of the
transform entries are collected into one list and raised together.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

from .overrides import Override
from .pipeline_config import PipelineConfig, build_pipeline_config
from .problems import ProblemList
from .validation import PipelineEntry, validate_transforms

if TYPE_CHECKING:
    from ..plugin import PluginHost


def resolve_pipeline(
    host: PluginHost,
    *,
    data: Optional[Mapping[str, Any]] = None,
    files: Iterable[Union[str, os.PathLike[str]]] = (),
    overrides: Iterable[Union[str, Override]] = (),
    mode: Optional[str] = None,
    strict: bool = False,
    allow_unavailable: Optional[bool] = None,
) -> tuple[PipelineConfig, list[PipelineEntry]]:
    """The merged config and its validated entries in run order; `ConfigProblems` lists every problem."""
    problems = ProblemList()
    config = build_pipeline_config(
        host,
        data=data,
        files=files,
        overrides=overrides,
        mode=mode,
        strict=strict,
        allow_unavailable=allow_unavailable,
        problems=problems,
    )
    entries = validate_transforms(config, host, strict=strict, allow_unavailable=allow_unavailable, problems=problems)
    problems.raise_if_any()
    remember_entries(config, entries, strict=strict, allow_unavailable=allow_unavailable)
    return config, entries


def validated_entries(
    config: PipelineConfig, host: PluginHost, *, strict: bool = False, allow_unavailable: Optional[bool] = None
) -> list[PipelineEntry]:
    """The entries of an already merged config, validated once (warnings are not said twice)."""
    flags = (strict, bool(config.allow_unavailable if allow_unavailable is None else allow_unavailable))
    remembered = config._validated.get(flags)
    if remembered is not None:
        return list(remembered)
    entries = validate_transforms(config, host, strict=strict, allow_unavailable=allow_unavailable)
    remember_entries(config, entries, strict=strict, allow_unavailable=allow_unavailable)
    return entries


def remember_entries(
    config: PipelineConfig, entries: list[PipelineEntry], *, strict: bool, allow_unavailable: Optional[bool]
) -> None:
    flags = (strict, bool(config.allow_unavailable if allow_unavailable is None else allow_unavailable))
    config._validated[flags] = list(entries)
