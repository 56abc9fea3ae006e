"""`InferenceOptimizer`: AutoDeploy's entry point, running a validated pipeline of transforms.

``InferenceOptimizer(factory, config)(cm)`` returns the final module, as in AutoDeploy;
``.run(cm)`` also returns the run report. The config is validated when the optimizer is built,
so a typo fails before any model is touched. Plugins observe the run through lifecycle hooks
(before/after each stage and transform, and on errors).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from ..config import SharedConfig
from ..errors import TransformError
from ..records import RunReport
from .pipeline_config import PipelineConfig, build_pipeline_config
from .validation import PipelineEntry, validate_transforms

if TYPE_CHECKING:
    from torch import nn

    from ..factory import ModelFactory
    from ..interface import CachedSequenceInterface
    from ..plugin import PluginHost
    from ..transform.base import BaseTransform

ConfigInput = Union[Mapping[str, Any], PipelineConfig, str, "os.PathLike[str]"]


@dataclass
class RunResult:
    """What a run produced: the final module and one record per transform."""

    module: nn.Module
    report: RunReport


class InferenceOptimizer:
    """Run the transforms of a pipeline config, in stage order, on a module.

    `config` is AutoDeploy's layout (``{"transforms": {...}, ...}``), a flat mapping of key ->
    entry (AutoDeploy's Python API), a `PipelineConfig`, or the path of a YAML file. `host`
    provides the transforms (by default the installed plugins, per the environment's controls).
    """

    def __init__(
        self,
        factory: Optional[ModelFactory],
        config: ConfigInput,
        *,
        host: Optional[PluginHost] = None,
        strict: bool = False,
        shared_config: Optional[SharedConfig] = None,
    ):
        if host is None:
            from ..plugin import PluginHost

            host = PluginHost.from_environment()
        self.factory = factory
        self.host = host
        self.config = _as_pipeline_config(host, config)
        self.entries: list[PipelineEntry] = validate_transforms(self.config, host, strict=strict)
        self.shared_config = shared_config or SharedConfig(world_size=self.config.world_size)
        self.last_report: Optional[RunReport] = None

    def __call__(self, cm: CachedSequenceInterface, mod: Optional[nn.Module] = None) -> nn.Module:
        """Run the pipeline and return the final module (AutoDeploy's call)."""
        return self.run(cm, mod).module

    def run(self, cm: CachedSequenceInterface, mod: Optional[nn.Module] = None) -> RunResult:
        """Run the pipeline on `mod` (a fresh `PipelineModule` by default); keep the report.

        A transform that fails without ``skip_on_error`` raises `TransformError` carrying the
        report so far as ``exc.report`` (also kept as ``self.last_report``).
        """
        if mod is None:
            from .container import new_pipeline_module

            mod = new_pipeline_module()
        report = RunReport()
        self.last_report = report
        hook = self.host.hook
        for stage, stage_entries in itertools.groupby(self.entries, key=lambda entry: entry.stage):
            hook.autodeploy_before_stage(stage=stage, mod=mod, report=report)
            for entry in stage_entries:
                mod = self._run_transform(entry, mod, cm, report)
            hook.autodeploy_after_stage(stage=stage, mod=mod, report=report)
        return RunResult(module=mod, report=report)

    def _run_transform(
        self, entry: PipelineEntry, mod: nn.Module, cm: CachedSequenceInterface, report: RunReport
    ) -> nn.Module:
        hook = self.host.hook
        transform = _instantiate(entry, report)
        hook.autodeploy_before_transform(
            key=entry.key, stage=entry.stage, transform=transform, mod=mod, factory=self.factory
        )
        try:
            mod = transform(mod, cm, self.factory, self.shared_config)
        except TransformError as exc:
            if transform.last_record is not None:
                report.add(transform.last_record)
                hook.autodeploy_transform_error(
                    key=entry.key,
                    stage=entry.stage,
                    error=transform.last_error or exc,
                    record=transform.last_record,
                    will_continue=False,
                )
            exc.report = report  # type: ignore[attr-defined]
            raise
        record = transform.last_record
        assert record is not None, "BaseTransform.__call__ records every run"
        report.add(record)
        if transform.last_error is not None:  # failed, skipped by skip_on_error
            hook.autodeploy_transform_error(
                key=entry.key, stage=entry.stage, error=transform.last_error, record=record, will_continue=True
            )
        hook.autodeploy_after_transform(key=entry.key, stage=entry.stage, record=record, mod=mod)
        return mod


def _as_pipeline_config(host: PluginHost, config: ConfigInput) -> PipelineConfig:
    if isinstance(config, PipelineConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        return build_pipeline_config(host, files=[config])
    return build_pipeline_config(host, data=config)


def _instantiate(entry: PipelineEntry, report: RunReport) -> BaseTransform:
    """Create the transform; a failing constructor is the transform's failure, with the report."""
    try:
        return entry.transform_class(entry.config)
    except Exception as exc:
        error = TransformError(entry.key, entry.stage.value, f"could not be created: {type(exc).__name__}: {exc}")
        error.report = report  # type: ignore[attr-defined]
        raise error from exc
