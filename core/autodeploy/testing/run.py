"""Running one transform on a module, the way a pipeline would, and getting its record back.

A plugin author's first test is "does my transform do its job on a real module": this builds the
transform from its key (through a plugin host) or class, with its mode's entry as the base config
so that ``run_per_gm`` and ``stage`` are what a pipeline would use, and calls it exactly as the
optimizer does.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

from ..config import SharedConfig, TransformConfig
from ..errors import ConfigError
from ..interface import CachedSequenceInterface

if TYPE_CHECKING:
    from torch import nn

    from ..factory import ModelFactory
    from ..plugin import PluginHost
    from ..records import TransformRecord
    from ..transform.base import BaseTransform


def run_transform(
    transform: Union[str, type[BaseTransform]],
    mod: Optional[nn.Module] = None,
    *,
    host: Optional[PluginHost] = None,
    factory: Optional[ModelFactory] = None,
    cm: Optional[CachedSequenceInterface] = None,
    shared_config: Optional[SharedConfig] = None,
    **config: Any,
) -> tuple[nn.Module, TransformRecord]:
    """Run one transform on `mod` and return ``(module, record)``.

    `transform` is a key (looked up in `host`, by default the installed plugins) or a transform
    class. The config starts from the entry of the first mode (by name) that configures the key,
    then `config` overrides it; ``stage`` must come from one of them or from the config class's
    default. `mod` defaults to an empty `PipelineModule`, as a pipeline starts (factory-stage
    transforms fill it from `factory`). Failures raise `TransformError` unless ``skip_on_error``.
    """
    if host is None and isinstance(transform, str):
        from ..plugin import PluginHost

        host = PluginHost.from_environment()
    transform_class = _transform_class(transform, host)
    key = transform if isinstance(transform, str) else _key_of(transform_class, host)
    settings = {**_mode_entry(host, key), **config}
    instance = transform_class(_validated_config(transform_class, key, settings))
    instance.key = key
    if mod is None:
        from ..optimizer.container import new_pipeline_module

        mod = new_pipeline_module()
    result = instance(
        mod,
        cm if cm is not None else CachedSequenceInterface(max_seq_len=64, device="cpu"),
        factory,
        shared_config if shared_config is not None else SharedConfig(),
    )
    assert instance.last_record is not None, "BaseTransform.__call__ records every run"
    return result, instance.last_record


def _transform_class(transform: Union[str, type[BaseTransform]], host: Optional[PluginHost]) -> type[BaseTransform]:
    from ..transform.base import BaseTransform

    if isinstance(transform, str):
        assert host is not None
        return host.transform_class(transform)
    if inspect.isclass(transform) and issubclass(transform, BaseTransform):
        return transform
    raise TypeError(f"run_transform needs a transform key or a BaseTransform subclass, got {transform!r}")


def _key_of(transform_class: type[BaseTransform], host: Optional[PluginHost]) -> str:
    """The key `host` registers the class under, else the key the class declares."""
    key = host.transform_key_of(transform_class) if host is not None else None
    return key if key is not None else transform_class.declared_key()


def _mode_entry(host: Optional[PluginHost], key: str) -> dict[str, Any]:
    """The entry of the first mode (by name) configuring `key`; {} when none does."""
    if host is None:
        return {}
    modes = host.modes()
    for mode in sorted(modes):
        entry = modes[mode].get(key)
        if isinstance(entry, Mapping):
            return dict(entry)
    return {}


def _validated_config(transform_class: type[BaseTransform], key: str, settings: dict[str, Any]) -> TransformConfig:
    import pydantic

    config_class = transform_class.get_config_class()
    if "stage" not in settings and config_class.model_fields["stage"].is_required():
        raise ConfigError(
            f"no stage for transform {key!r}: no mode configures it; pass stage=... to run_transform",
            source="run_transform",
            path=key,
        )
    try:
        return config_class(**settings)
    except pydantic.ValidationError as exc:
        raise ConfigError(
            f"invalid config for {config_class.__name__}: {exc}", source="run_transform", path=key
        ) from exc
