"""`InferenceOptimizer`: AutoDeploy's entry point, running a validated pipeline of transforms.

``InferenceOptimizer(factory, config)(cm)`` returns the final module, as in AutoDeploy;
``.run(cm)`` also returns the run report. The config is validated when the optimizer is built,
so a typo fails before any model is touched. Plugins observe the run through lifecycle hooks
(before/after each stage and transform, and on errors).
"""

from __future__ import annotations

import itertools
import logging
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from ..config import SharedConfig, TransformInfo
from ..errors import ConfigError, TransformError
from ..records import RunReport, TransformRecord, TransformStatus
from .pipeline_config import PipelineConfig
from .resolve import resolve_pipeline, validated_entries
from .validation import PipelineEntry

if TYPE_CHECKING:
    from torch import nn

    from ..factory import ModelFactory
    from ..interface import CachedSequenceInterface
    from ..plugin import PluginHost

logger = logging.getLogger(__name__)

ConfigInput = Union[Mapping[str, Any], PipelineConfig, str, "os.PathLike[str]"]


@dataclass
class RunResult:
    """What a run produced: the final module and one record per transform."""

    module: nn.Module
    report: RunReport


class InferenceOptimizer:
    """Run the transforms of a pipeline config, in stage order, on a module.

    `config` is AutoDeploy's layout (``{"transforms": {...}, ...}``; the mode defaults as for
    ``validate`` and ``run``: ``mode:``, else ``graph``), a flat mapping of key -> entry
    (AutoDeploy's Python API: exactly those transforms), a `PipelineConfig`, or the path of a YAML
    file. `host` provides the transforms (by default the installed plugins, per the environment's
    controls). Every problem of the config is reported at once (`ConfigProblems` for several);
    `strict` makes unknown fields and settings errors; `allow_unavailable` (default: the
    config's) skips AutoDeploy transforms that no installed plugin provides.
    """

    def __init__(
        self,
        factory: Optional[ModelFactory],
        config: ConfigInput,
        *,
        host: Optional[PluginHost] = None,
        strict: bool = False,
        allow_unavailable: Optional[bool] = None,
        shared_config: Optional[SharedConfig] = None,
    ):
        if host is None:
            from ..plugin import PluginHost

            host = PluginHost.from_environment()
        self.factory = factory
        self.host = host
        self.config, self.entries = _resolved(host, config, strict=strict, allow_unavailable=allow_unavailable)
        if shared_config is None:
            shared_config = _shared_config_for(self.config.world_size)
            if shared_config.world_size > 1:  # a rank of a launched run (a given shared_config is trusted)
                _require_sharding(self.entries, shared_config.world_size)
        self.shared_config = shared_config
        self.last_report: Optional[RunReport] = None

    def __call__(self, cm: CachedSequenceInterface, mod: Optional[nn.Module] = None) -> nn.Module:
        """Run the pipeline and return the final module (AutoDeploy's call)."""
        return self.run(cm, mod).module

    def run(self, cm: CachedSequenceInterface, mod: Optional[nn.Module] = None) -> RunResult:
        """Run the pipeline on `mod` (a fresh `PipelineModule` by default); keep the report.

        A transform that fails without ``skip_on_error`` raises `TransformError` carrying the
        report so far as ``exc.report`` (also kept as ``self.last_report``).
        """
        if self.shared_config.world_size > 1:
            from ..distributed import DistributedContext

            DistributedContext(
                rank=self.shared_config.local_rank, world_size=self.shared_config.world_size
            ).init_process_group(device=cm.device)
        if mod is None:
            from .container import new_pipeline_module

            mod = new_pipeline_module()
        report = RunReport()
        self.last_report = report
        for stage, stage_entries in itertools.groupby(self.entries, key=lambda entry: entry.stage):
            self.host.before_stage(stage=stage, mod=mod, report=report)
            for entry in stage_entries:
                mod = self._run_transform(entry, mod, cm, report)
            self.host.after_stage(stage=stage, mod=mod, report=report)
        return RunResult(module=mod, report=report)

    def _run_transform(
        self, entry: PipelineEntry, mod: nn.Module, cm: CachedSequenceInterface, report: RunReport
    ) -> nn.Module:
        try:
            transform = entry.transform_class(entry.config)
            transform.key = entry.key  # the registration's key: one class may serve under other keys elsewhere
        except Exception as exc:  # noqa: BLE001 - plugin code: the transform's own failure
            return self._failed_before_running(entry, mod, report, exc, "could not be created")
        self.host.before_transform(
            key=entry.key,
            stage=entry.stage,
            transform=transform,
            mod=mod,
            factory=self.factory,
        )
        try:
            mod = transform(mod, cm, self.factory, self.shared_config)
        except TransformError as exc:
            if transform.last_record is not None:
                report.add(transform.last_record)
                self._report_error(entry, transform.last_error or exc, transform.last_record, will_continue=False)
            exc.report = report  # type: ignore[attr-defined]
            raise
        except Exception as exc:  # noqa: BLE001 - raised around the transform's own code (e.g. an overridden __call__)
            return self._failed_before_running(entry, mod, report, exc, "failed", skippable=False)
        record = transform.last_record
        assert record is not None, "BaseTransform.__call__ records every run"
        report.add(record)
        if transform.last_error is not None:  # failed, skipped by skip_on_error
            self._report_error(entry, transform.last_error, record, will_continue=True)
        self.host.after_transform(key=entry.key, stage=entry.stage, record=record, mod=mod)
        return mod

    def _report_error(
        self, entry: PipelineEntry, error: BaseException, record: TransformRecord, *, will_continue: bool
    ) -> None:
        """Tell the error hook about a failed transform (the one place that calls it)."""
        self.host.transform_error(
            key=entry.key,
            stage=entry.stage,
            error=error,
            record=record,
            will_continue=will_continue,
        )

    def _failed_before_running(
        self,
        entry: PipelineEntry,
        mod: nn.Module,
        report: RunReport,
        exc: Exception,
        what: str,
        *,
        skippable: bool = True,
    ) -> nn.Module:
        """Record a transform that failed outside `BaseTransform.__call__` (its constructor raised):
        the report and the error hook see it, and ``skip_on_error`` goes on as for any failure."""
        problem = f"{type(exc).__name__}: {exc}"
        will_continue = skippable and entry.config.skip_on_error
        record = TransformRecord(
            key=entry.key,
            stage=entry.stage,
            status=TransformStatus.FAILED,
            info=TransformInfo(skipped=True, num_matches=0),
            error=f"{what}: {problem}",
            traceback="".join(traceback.format_exception(exc)),
            skipped_on_error=will_continue,
        )
        report.add(record)
        self._report_error(entry, exc, record, will_continue=will_continue)
        if not will_continue:
            error = TransformError(entry.key, entry.stage.value, f"{what}: {problem}")
            error.report = report  # type: ignore[attr-defined]
            raise error from exc
        logger.warning(
            "transform %s (stage %s) %s and was skipped (skip_on_error): %s", entry.key, entry.stage, what, problem
        )
        self.host.after_transform(key=entry.key, stage=entry.stage, record=record, mod=mod)
        return mod


def _resolved(
    host: PluginHost, config: ConfigInput, *, strict: bool, allow_unavailable: Optional[bool]
) -> tuple[PipelineConfig, list[PipelineEntry]]:
    """The config and its validated entries; every problem of a config is reported at once."""
    if isinstance(config, PipelineConfig):
        return config, validated_entries(config, host, strict=strict, allow_unavailable=allow_unavailable)
    if isinstance(config, (str, os.PathLike)):
        return resolve_pipeline(host, files=[config], strict=strict, allow_unavailable=allow_unavailable)
    return resolve_pipeline(host, data=config, strict=strict, allow_unavailable=allow_unavailable)


def _require_sharding(entries: list[PipelineEntry], world_size: int) -> None:
    """Several ranks need a pipeline that splits the model: without a transform of the sharding
    stage every rank would compute the whole model, the opposite of what was asked for."""
    from ..stages import Stages

    if any(entry.stage is Stages.SHARDING and entry.config.enabled for entry in entries):
        return
    raise ConfigError(
        f"world_size is {world_size} but this pipeline has no enabled transform of the sharding stage, so "
        "every rank would hold and compute the whole model. The transformers mode does not split models "
        "(transformers' own tensor parallelism, tp_plan, needs the `accelerate` package and is not wired in): "
        "use the graph mode (`--mode graph`), whose detect_sharding and sharding_transform_executor split it, "
        "or world_size 1"
    )


def _shared_config_for(world_size: int) -> SharedConfig:
    """This process's rank and the world size: from the environment torchrun sets, else one rank.

    A config's ``world_size`` must agree with the ranks actually started: asking for 2 in a
    single process is an error that says how to start them, rather than a silent single-rank run.
    """
    from ..distributed import DistributedContext

    context = DistributedContext.from_env()
    if world_size > 1 and context.world_size != world_size:
        if not context.is_distributed:
            raise ConfigError(
                f"world_size is {world_size} but this is a single process: start {world_size} ranks with "
                f"`torchrun --nproc-per-node {world_size} -m autodeploy run ...` or `autodeploy run --world-size "
                f"{world_size} ...` (or, from Python, under torchrun)"
            )
        raise ConfigError(
            f"world_size is {world_size} but this process is one of {context.world_size} ranks (WORLD_SIZE)"
        )
    return SharedConfig(local_rank=context.rank, world_size=context.world_size)
