"""Validating a pipeline's transform entries, each with its own transform's config class.

Validation happens when the optimizer is built, before anything runs: a typo must cost a second,
not the minutes a model build and export take before the bad transform is reached. Unknown
fields are kept (AutoDeploy's configs allow extras) but warned about with the closest valid
field, and refused in strict mode. An unknown field that is a near-miss of a valid one (`devise`
for `device`) is refused in any mode: it is a typo, the setting meant would silently keep its
default, and since an unknown field is never used, renaming or deleting it changes nothing else.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from pydantic import ValidationError

from ..catalogue import KnownTransform, autodeploy_catalogue
from ..errors import ConfigError, PluginError, UnknownTransformError
from .overrides import TRANSFORMS_KEY
from .problems import ProblemKind, ProblemList
from .suggestions import close_enough, likely_typo_of, suggestion
from .validation_messages import config_errors_from_validation, is_missing_stage, yaml_type_name

if TYPE_CHECKING:
    from ..config import TransformConfig
    from ..plugin import PluginHost
    from ..stages import Stages
    from ..transform.base import BaseTransform
    from .pipeline_config import PipelineConfig

logger = logging.getLogger(__name__)


class ConfigWarning(UserWarning):
    """A config is accepted but probably not what was meant (e.g. an unknown, mistyped field).

    A category of its own so that users and test suites can filter it or turn it into an error.
    """


@dataclass(frozen=True)
class PipelineEntry:
    """One validated transform entry: what to run, with which config, and where it was set."""

    key: str
    transform_class: type[BaseTransform]
    config: TransformConfig
    source: str

    @property
    def stage(self) -> Stages:
        return self.config.stage


def validate_transforms(
    config: PipelineConfig,
    host: PluginHost,
    *,
    strict: bool = False,
    allow_unavailable: Optional[bool] = None,
    problems: Optional[ProblemList] = None,
) -> list[PipelineEntry]:
    """Every entry of `config.transforms`, validated and ordered by stage (stable within a stage).

    Every problem of every entry is collected and reported at once (`ConfigProblems` for several).
    An AutoDeploy transform that no installed plugin provides is a problem of its own kind; with
    `allow_unavailable` (default: the config's ``allow_unavailable``) it is skipped, all such
    entries named in one warning, unless `strict`. A disabled one is skipped in any case: it would
    not run. Pass `problems` to add to a list that the caller raises.
    """
    own = problems is None
    problems = problems if problems is not None else ProblemList()
    if allow_unavailable is None:
        allow_unavailable = bool(getattr(config, "allow_unavailable", False))
    if config.transforms:
        host.transforms()  # strict plugin checks fail here, about the plugins, before any entry is blamed
    entries: list[PipelineEntry] = []
    skipped: list[KnownTransform] = []
    for key, entry in config.transforms.items():
        validated = _validate_entry(
            config,
            host,
            key,
            entry,
            strict=strict,
            allow_unavailable=allow_unavailable,
            problems=problems,
            skipped=skipped,
        )
        if validated is not None:
            entries.append(validated)
    if skipped:
        _warn_skipped(skipped)
    if own:
        problems.raise_if_any()
    return order_by_stage(entries)


def order_by_stage(entries: list[PipelineEntry]) -> list[PipelineEntry]:
    """Sort by stage; entries of one stage keep their config order (sorted() is stable)."""
    return sorted(entries, key=lambda entry: entry.stage.rank)


def _validate_entry(
    config: PipelineConfig,
    host: PluginHost,
    key: str,
    entry: Any,
    *,
    strict: bool,
    allow_unavailable: bool,
    problems: ProblemList,
    skipped: list[KnownTransform],
) -> Optional[PipelineEntry]:
    prefix = (TRANSFORMS_KEY, key)
    entry_source = config.source_of(prefix)
    try:
        transform_class = host.transform_class(key)
    except UnknownTransformError:
        known = autodeploy_catalogue().get(key)
        if known is None:
            problems.add(ProblemKind.UNKNOWN_TRANSFORM, _unknown_transform(host, key, entry_source, problems))
        elif isinstance(entry, Mapping) and entry.get("enabled") is False:
            logger.info(
                "%s: %s: disabled, and %s; skipped", entry_source, ".".join(prefix), known.unavailable_message()
            )
        elif allow_unavailable and not strict:
            skipped.append(known)
        else:
            problems.add(
                ProblemKind.UNAVAILABLE,
                ConfigError(known.unavailable_message(), source=entry_source, path=".".join(prefix)),
            )
        return None
    except PluginError as exc:
        # the plugin is at fault, but the user needs to know which entry of which file needs it
        problems.add(ProblemKind.PLUGIN, PluginError(f"{entry_source}: {'.'.join(prefix)}: {exc}"))
        return None
    if not isinstance(entry, Mapping):
        problems.add(
            ProblemKind.VALUE,
            ConfigError(
                f"a transform entry must be a mapping of field: value (at least `stage:`), got {entry!r} "
                f"({yaml_type_name(entry)})",
                source=entry_source,
                path=".".join(prefix),
            ),
        )
        return None
    config_class = transform_class.get_config_class()
    field_problems = len(problems)
    checks_extras = config_class.model_config.get("extra") != "forbid"  # else pydantic reports them
    for field in sorted(str(name) for name in entry if checks_extras and str(name) not in config_class.model_fields):
        _report_unknown_field(config, key, field, config_class, strict=strict, problems=problems)
    try:
        transform_config = config_class.model_validate(dict(entry))
    except ValidationError as exc:
        for error in config_errors_from_validation(exc, prefix=prefix, source_of=config.source_of):
            problems.add(ProblemKind.MISSING_STAGE if is_missing_stage(error) else ProblemKind.VALUE, error)
        return None
    if len(problems) > field_problems:
        return None
    transform_config = transform_class.with_implementation_default(transform_config)
    return PipelineEntry(key=key, transform_class=transform_class, config=transform_config, source=entry_source)


def _unknown_transform(host: PluginHost, key: str, source: str, problems: ProblemList) -> UnknownTransformError:
    """A key neither installed nor AutoDeploy's: a typo (suggested only when close) or a missing plugin."""
    installed = list(host.transforms())
    catalogue = autodeploy_catalogue()
    meant = close_enough(key, [*installed, *catalogue.transforms])
    if meant is not None and meant in installed:
        hint = f"did you mean {meant!r}?"
    elif meant is not None:
        hint = f"did you mean {meant!r}? ({catalogue.transforms[meant].unavailable_message()})"
    else:
        hint = "no installed plugin provides it (`autodeploy list-transforms` lists what they do)"
    problems.note_once(f"loaded plugins: {host.loaded_plugins_line()}")
    return UnknownTransformError(f"unknown transform {key!r}; {hint}", source=source, path=f"{TRANSFORMS_KEY}.{key}")


def _warn_skipped(skipped: list[KnownTransform]) -> None:
    listed = ", ".join(f"{known.key} ({known.stage}{', CUDA' if known.cuda else ''})" for known in skipped)
    message = (
        f"skipping {len(skipped)} AutoDeploy transform(s) that no installed plugin provides "
        f"(allow_unavailable): {listed}"
    )
    warnings.warn(message, ConfigWarning, stacklevel=3)


def _report_unknown_field(
    config: PipelineConfig,
    key: str,
    field: str,
    config_class: type[TransformConfig],
    *,
    strict: bool,
    problems: ProblemList,
) -> None:
    path = f"{TRANSFORMS_KEY}.{key}.{field}"
    source = config.source_of(path.split("."))
    meant = likely_typo_of(field, config_class.model_fields)
    if meant is not None:
        problems.add(
            ProblemKind.FIELD,
            ConfigError(
                f"unknown field {field!r} for transform {key!r}; did you mean {meant!r}? ({config_class.__name__} has "
                f"no field {field!r}, so the setting would be ignored and {meant!r} would keep its value)",
                source=source,
                path=path,
            ),
        )
        return
    message = (
        f"unknown field {field!r} for transform {key!r} ({suggestion(field, config_class.model_fields)}); "
        f"{config_class.__name__} does not use it"
    )
    if strict:
        problems.add(
            ProblemKind.FIELD, ConfigError(f"{message} (strict mode refuses unknown fields)", source=source, path=path)
        )
        return
    # one channel: a warning (Python callers filter or catch it; the CLI shows it as a log line)
    warnings.warn(f"{source}: {path}: {message}", ConfigWarning, stacklevel=2)
