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
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import ConfigError, PluginError, UnknownTransformError
from .overrides import TRANSFORMS_KEY
from .suggestions import likely_typo_of, suggestion
from .validation_messages import config_error_from_validation, yaml_type_name

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


def validate_transforms(config: PipelineConfig, host: PluginHost, *, strict: bool = False) -> list[PipelineEntry]:
    """Every entry of `config.transforms`, validated and ordered by stage (stable within a stage)."""
    if config.transforms:
        host.transforms()  # strict plugin checks fail here, about the plugins, before any entry is blamed
    entries = [_validate_entry(config, host, key, entry, strict=strict) for key, entry in config.transforms.items()]
    return order_by_stage(entries)


def order_by_stage(entries: list[PipelineEntry]) -> list[PipelineEntry]:
    """Sort by stage; entries of one stage keep their config order (sorted() is stable)."""
    return sorted(entries, key=lambda entry: entry.stage.rank)


def _validate_entry(config: PipelineConfig, host: PluginHost, key: str, entry: Any, *, strict: bool) -> PipelineEntry:
    prefix = (TRANSFORMS_KEY, key)
    entry_source = config.source_of(prefix)
    try:
        transform_class = host.transform_class(key)
    except UnknownTransformError as exc:
        raise UnknownTransformError(
            getattr(exc, "message", str(exc)), source=entry_source, path=".".join(prefix)
        ) from None
    except PluginError as exc:
        # the plugin is at fault, but the user needs to know which entry of which file needs it
        raise PluginError(f"{entry_source}: {'.'.join(prefix)}: {exc}") from None
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"a transform entry must be a mapping of field: value (at least `stage:`), got {entry!r} "
            f"({yaml_type_name(entry)})",
            source=entry_source,
            path=".".join(prefix),
        )
    config_class = transform_class.get_config_class()
    try:
        transform_config = config_class.model_validate(dict(entry))
    except ValidationError as exc:
        raise config_error_from_validation(exc, prefix=prefix, source_of=config.source_of) from None
    for field in transform_config.unknown_fields():
        _report_unknown_field(config, key, field, config_class, strict=strict)
    return PipelineEntry(key=key, transform_class=transform_class, config=transform_config, source=entry_source)


def _report_unknown_field(
    config: PipelineConfig, key: str, field: str, config_class: type[TransformConfig], *, strict: bool
) -> None:
    path = f"{TRANSFORMS_KEY}.{key}.{field}"
    source = config.source_of(path.split("."))
    meant = likely_typo_of(field, config_class.model_fields)
    if meant is not None:
        raise ConfigError(
            f"unknown field {field!r} for transform {key!r}; did you mean {meant!r}? ({config_class.__name__} has "
            f"no field {field!r}, so the setting would be ignored and {meant!r} would keep its value)",
            source=source,
            path=path,
        )
    message = (
        f"unknown field {field!r} for transform {key!r} ({suggestion(field, config_class.model_fields)}); "
        f"{config_class.__name__} does not use it"
    )
    if strict:
        raise ConfigError(f"{message} (strict mode refuses unknown fields)", source=source, path=path)
    # one channel: a warning (Python callers filter or catch it; the CLI shows it as a log line)
    warnings.warn(f"{source}: {path}: {message}", ConfigWarning, stacklevel=2)
