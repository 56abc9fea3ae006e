"""`BaseTransform`: what every transform derives from, and what runs around each transform.

A transform implements `_apply` (once per GraphModule, ``run_per_gm: true``) or
`_apply_to_full_model` (``run_per_gm: false``). `__call__` does the rest, identically for every
transform: skip when disabled, clean the graph and propagate shapes when needed, time and measure
memory, handle errors (``skip_on_error``), record a history entry, dump graphs for debugging.
"""

from __future__ import annotations

import logging
import time
import traceback as traceback_module
from typing import TYPE_CHECKING, Any, ClassVar, Optional, final

from ..config import SharedConfig, TransformConfig, TransformInfo
from ..errors import TransformError
from ..records import TransformRecord, TransformStatus
from . import memory

if TYPE_CHECKING:
    from torch import fx, nn

    from ..factory import ModelFactory
    from ..interface import CachedSequenceInterface

logger = logging.getLogger(__name__)

AUTODEPLOY_META_KEY = "_autodeploy"
HISTORY_KEY = "transform_history"


def get_history(mod: nn.Module) -> list[TransformRecord]:
    """The ordered records of every transform run on `mod` (re-runs of a key are kept)."""
    meta = getattr(mod, "meta", None)
    if not isinstance(meta, dict):
        return []
    return meta.get(AUTODEPLOY_META_KEY, {}).get(HISTORY_KEY, [])


def _append_history(mod: nn.Module, record: TransformRecord) -> None:
    meta = getattr(mod, "meta", None)
    if not isinstance(meta, dict):
        meta = {}  # plain nn.Modules have no meta; GraphModules do
        setattr(mod, "meta", meta)  # noqa: B010 - an attribute nn.Module's typing does not know
    meta.setdefault(AUTODEPLOY_META_KEY, {}).setdefault(HISTORY_KEY, []).append(record)


class BaseTransform:
    """A transform of the pipeline: configured by a `TransformConfig`, applied to a module."""

    config: TransformConfig
    # The key a class may declare for itself, used when it is created outside a pipeline (tests,
    # scripts) and no key is set. The key a pipeline uses is the one the class was registered under:
    # the registration (the host's provider record) owns it, so one class can serve under
    # different keys in different hosts. Nothing writes this attribute.
    transform_key: ClassVar[Optional[str]] = None

    def __init__(self, config: TransformConfig):
        # re-validate a base config (or any config) into this transform's own config class
        config_class = self.get_config_class()
        if not isinstance(config, config_class):
            config = config_class.model_validate(config.model_dump() if isinstance(config, TransformConfig) else config)
        self.config = self.with_implementation_default(config)
        self._key: Optional[str] = None  # set by whoever creates it for a key (the pipeline)
        self.last_record: Optional[TransformRecord] = None
        self.last_error: Optional[BaseException] = None
        self._notes: list[str] = []

    def note(self, text: str) -> None:
        """Add a short remark to this run's record (e.g. ``"cache hit"``): the run report shows it
        next to the status, so a user sees why a run took the time it did."""
        self._notes.append(text)
        self._details: dict[str, Any] = {}

    def add_details(self, **facts: Any) -> None:
        """Note what this run did beyond its match count (e.g. ``bytes_before=..., bytes_after=...``),
        for the run report. Numbers given again (once per GraphModule) add up; other values replace."""
        for name, value in facts.items():
            previous = self._details.get(name)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if is_number and isinstance(previous, (int, float)) and not isinstance(previous, bool):
                self._details[name] = previous + value
            else:
                self._details[name] = value

    @classmethod
    def declared_key(cls) -> str:
        """The key the class declares (`transform_key`); a `TypeError` saying how to give one otherwise."""
        # `_transform_key` is the name older plugins declared it under; read until none does
        # declared on this very class: a subclass registered under its own key must not inherit one
        declared = cls.__dict__.get("transform_key") or cls.__dict__.get("_transform_key")
        if not declared:
            raise TypeError(
                f"{cls.__qualname__} has no transform key: create it through a plugin host "
                "(the pipeline sets the key of its entry), set .key, or declare transform_key on the class"
            )
        return declared

    @property
    def key(self) -> str:
        """The key this transform runs under: the one it was created for (the pipeline sets the
        key of its entry), else the key its class declares."""
        if self._key is None:
            self._key = type(self).declared_key()
        return self._key

    @key.setter
    def key(self, key: str) -> None:
        self._key = key

    def get_transform_key(self) -> str:
        """The key this transform runs under (`key`; kept for plugins written against it)."""
        return self.key

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        """Get the configuration class for the transform.

        This is used to validate the configuration of the transform.
        """
        return TransformConfig

    @classmethod
    def implemented_ways(cls) -> tuple[bool, bool]:
        """Whether the class implements `_apply` (per GraphModule) and `_apply_to_full_model`."""
        per_gm = getattr(cls, "_apply", None) is not BaseTransform._apply
        full_model = getattr(cls, "_apply_to_full_model", None) is not BaseTransform._apply_to_full_model
        return per_gm, full_model

    @classmethod
    def with_implementation_default(cls, config: TransformConfig) -> TransformConfig:
        """`config` with ``run_per_gm`` following what the class implements.

        A transform that implements only `_apply_to_full_model` runs on the whole model, one that
        implements only `_apply` per GraphModule, whatever the config says (a config written for
        AutoDeploy's implementation of the same key may say otherwise: it cannot be honoured, and
        refusing AutoDeploy's own files would help nobody). One that implements both keeps the
        config's choice.
        """
        per_gm, full_model = cls.implemented_ways()
        if per_gm == full_model:
            return config
        if config.run_per_gm != per_gm and "run_per_gm" in config.model_fields_set:
            logger.debug(
                "run_per_gm %s ignored: %s implements only %s",
                config.run_per_gm,
                cls.__qualname__,
                "_apply" if per_gm else "_apply_to_full_model",
            )
        if config.run_per_gm == per_gm:
            return config
        return config.model_copy(update={"run_per_gm": per_gm})

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> BaseTransform:
        """Create a transform from keyword arguments (validated by its config class)."""
        return cls(config=cls.get_config_class()(**kwargs))

    @final
    def __call__(
        self,
        mod: nn.Module,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> nn.Module:
        """Run the transform on `mod` and return the (possibly new) module."""
        key = self.key
        stage = self.config.stage
        history = get_history(mod)
        info_last = history[-1].info if history else TransformInfo(skipped=False, num_matches=0)
        self.last_error = None
        self._notes = []
        self._details = {}

        mem_before = memory.take_snapshot()
        start = time.perf_counter()
        status = TransformStatus.APPLIED
        error_text = traceback_text = None
        if not self.config.enabled:
            info = TransformInfo.from_last_info(info_last)
            status = TransformStatus.DISABLED
        else:
            try:
                is_clean, has_valid_shapes = self._run_pre_cleanup(mod, cm, info_last)
                mod, info_apply = self._apply_per_gm_or_whole_model(mod, cm, factory, shared_config)
                if info_apply.num_matches == 0:
                    # nothing changed: the graph is as clean/valid as before the transform
                    info_apply = info_apply | TransformInfo(
                        skipped=info_apply.skipped,
                        num_matches=0,
                        is_clean=is_clean,
                        has_valid_shapes=has_valid_shapes,
                    )
                info = self._run_post_cleanup(mod, cm, info_apply)
                if info.skipped:
                    status = TransformStatus.SKIPPED
            except Exception as exc:  # noqa: BLE001 - recorded, then re-raised or skipped
                self.last_error = exc
                error_text = f"{type(exc).__name__}: {exc}"
                traceback_text = traceback_module.format_exc()
                info = TransformInfo.from_last_info(info_last)
                status = TransformStatus.FAILED
        elapsed = time.perf_counter() - start
        mem_after = memory.take_snapshot()

        record = TransformRecord(
            key=key,
            stage=stage,
            status=status,
            info=info,
            wall_time_s=elapsed,
            mem_before_mb=mem_before.rss_mb,
            mem_after_mb=mem_after.rss_mb,
            cuda_mem_before_mb=mem_before.cuda_mb,
            cuda_mem_after_mb=mem_after.cuda_mb,
            error=error_text,
            traceback=traceback_text,
            skipped_on_error=self.last_error is not None and self.config.skip_on_error,
            notes=list(self._notes),
            details=dict(self._details),
        )
        _append_history(mod, record)
        self.last_record = record

        if self.last_error is not None:
            if not self.config.skip_on_error:
                raise TransformError(key, stage.value, error_text or "") from self.last_error
            logger.warning("transform %s (stage %s) failed and was skipped (skip_on_error): %s", key, stage, error_text)
        self._report_memory_change(key, mem_before, mem_after)
        if self.config.debug_visualize_dir and status is not TransformStatus.DISABLED:
            from .visualize import dump_graphmodules

            try:
                dump_graphmodules(mod, self.config.debug_visualize_dir, position=len(get_history(mod)), key=key)
            except OSError as exc:  # full disk, no permission: the dumps were asked for, so say so
                problem = (
                    f"cannot write its graph dump to debug_visualize_dir {self.config.debug_visualize_dir!r}: "
                    f"{exc.strerror or exc}"
                )
                record.status, record.error = TransformStatus.FAILED, problem
                raise TransformError(key, stage.value, problem) from exc
        logger.info("%s", _summary(record))
        return mod

    def _report_memory_change(self, key: str, before: memory.MemorySnapshot, after: memory.MemorySnapshot) -> None:
        change = memory.significant_change(before, after)
        if change is None:
            return
        if self.config.expect_mem_change or not memory.device_memory_changed(before, after):
            # RSS alone is shown, not warned about: on a CPU it also moves with lazy imports (a
            # model class's first use) and the allocator, so a warning would cry wolf on every run
            logger.info(
                "transform %s changed memory%s: %s",
                key,
                " as expected" if self.config.expect_mem_change else "",
                change,
            )
        else:
            logger.warning(
                "transform %s changed memory unexpectedly: %s (set expect_mem_change: true if intended)", key, change
            )

    def _apply_per_gm_or_whole_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        if not self.config.run_per_gm:
            return _checked_result(self._apply_to_full_model(mod, cm, factory, shared_config), "_apply_to_full_model")
        from .graph import named_graphmodules, replace_submodule

        graph_modules = list(named_graphmodules(mod))
        if not graph_modules:
            logger.info("transform %s: no GraphModule in the module, skipped", self.key)
            return mod, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        info = TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        for name, gm in graph_modules:
            new_gm, info_apply = _checked_result(self._apply(gm, cm, factory, shared_config), "_apply")
            if new_gm is not gm:
                if name:
                    replace_submodule(mod, name, new_gm)
                else:
                    mod = new_gm
            info = info & info_apply
        return mod, info

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        """Apply the transform to one GraphModule (``run_per_gm: true``)."""
        raise NotImplementedError(
            f"{type(self).__name__} implements no _apply; set run_per_gm: false if it works on the whole model"
        )

    def _apply_to_full_model(
        self, mod: nn.Module, cm: CachedSequenceInterface, factory: Optional[ModelFactory], shared_config: SharedConfig
    ) -> tuple[nn.Module, TransformInfo]:
        """Apply the transform to the whole module (``run_per_gm: false``)."""
        raise NotImplementedError(
            f"{type(self).__name__} implements no _apply_to_full_model; set run_per_gm: true if it works per graph"
        )

    def _run_pre_cleanup(self, mod: nn.Module, cm: CachedSequenceInterface, info: TransformInfo) -> tuple[bool, bool]:
        """Clean the graph / propagate shapes before the transform, only if required and stale."""
        is_clean, has_valid_shapes = info.is_clean, info.has_valid_shapes
        if self.config.requires_shape_prop and not has_valid_shapes:
            self._cleanup(mod, cm, shape_prop=True)
            return True, True
        if self.config.requires_clean_graph and not is_clean:
            self._cleanup(mod, cm, shape_prop=False)
            return True, has_valid_shapes
        return is_clean, has_valid_shapes

    def _run_post_cleanup(self, mod: nn.Module, cm: CachedSequenceInterface, info: TransformInfo) -> TransformInfo:
        """Clean the graph / propagate shapes after the transform, as configured."""
        if info.skipped:
            return info
        if self.config.run_shape_prop and not info.has_valid_shapes:
            self._cleanup(mod, cm, shape_prop=True)
            return info | TransformInfo(skipped=info.skipped, num_matches=0, is_clean=True, has_valid_shapes=True)
        if self.config.run_graph_cleanup and not info.is_clean:
            self._cleanup(mod, cm, shape_prop=False)
            return info | TransformInfo(skipped=info.skipped, num_matches=0, is_clean=True, has_valid_shapes=False)
        return info

    @staticmethod
    def _cleanup(mod: nn.Module, cm: CachedSequenceInterface, shape_prop: bool) -> None:
        from .graph import canonicalize_graph, named_graphmodules, run_shape_prop

        for _, gm in named_graphmodules(mod):
            canonicalize_graph(gm)
            if shape_prop:
                run_shape_prop(gm, cm)


def _checked_result(result: Any, method: str) -> tuple[Any, TransformInfo]:
    """The ``(module, TransformInfo)`` a transform method must return, or a `TypeError` saying what it
    returned instead: a plugin's slip then reads as a broken contract, not as an unpacking error."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{method} must return (module, TransformInfo), returned {_describe(result)}")
    module, info = result
    if module is None:
        raise TypeError(f"{method} must return (module, TransformInfo), returned no module (None)")
    if not isinstance(info, TransformInfo):
        raise TypeError(f"{method} must return (module, TransformInfo), returned {_describe(info)} as the info")
    return module, info


def _describe(value: Any) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return "None" if value is None else f"a {type(value).__name__}"


def _summary(record: TransformRecord) -> str:
    return (
        f"[{record.stage.value}] {record.key}: {record.status.value}, {record.num_matches} matches, "
        f"{record.wall_time_s:.3f}s, RSS {record.mem_change_mb:+.1f} MB"
    )
