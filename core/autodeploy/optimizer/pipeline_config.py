"""`PipelineConfig`: a whole pipeline's settings, merged from a mode preset and the user's layers.

The layout is AutoDeploy's: a top-level ``transforms:`` mapping of transform key -> entry, next to
settings such as ``model``, ``model_factory`` and ``max_seq_len``. AutoDeploy's YAML files carry
more top-level keys (runtime, attention backend, ...); they are kept, not refused, so those files
read as they are, and logged at debug level as not used.

Layers, lowest first: the mode preset (``mode: graph``), Python data, YAML files in order,
``--set`` overrides. They are deep-merged by key, so a layer that overrides one field of an entry
keeps the entry's other fields. Every error names the layer to edit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ..errors import ConfigError
from ..mappings import deep_merge
from .overrides import TRANSFORMS_KEY, Override, override_layer, parse_override
from .provenance import SourceMap
from .suggestions import suggestion
from .validation_messages import config_error_from_validation, yaml_type_name
from .yaml_loading import load_config_file

if TYPE_CHECKING:
    from ..plugin import PluginHost

logger = logging.getLogger(__name__)

PYTHON_SOURCE = "<python>"
"""How errors name config data handed over from Python (a dict or keyword arguments)."""

DEFAULT_MODEL_FACTORY = "AutoModelForCausalLM"


def mode_source(name: str) -> str:
    """How errors name a mode preset: ``mode graph``."""
    return f"mode {name}"


class PipelineConfig(BaseModel):
    """The settings of one pipeline: its transform entries and the model it runs on.

    Transform entries stay plain mappings here; each is validated by its own transform's config
    class (see `autodeploy.optimizer.validation`), which only the plugin host can provide.
    """

    model_config = ConfigDict(extra="allow")

    transforms: dict[str, Any] = Field(
        default_factory=dict,
        description="Transform key -> entry (a mapping with at least `stage`), run ordered by stage.",
    )
    mode: Optional[str] = Field(
        default=None,
        description="A preset pipeline (e.g. `graph`, `transformers`) the transforms are merged onto; "
        "None for exactly the given transforms.",
    )
    model: Optional[str] = Field(default=None, description="The model source, e.g. a checkpoint folder.")
    model_factory: str = Field(
        default=DEFAULT_MODEL_FACTORY, description="The registered model factory that builds the model."
    )
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra arguments for the model (merged into its config)."
    )
    skip_loading_weights: bool = Field(
        default=False, description="Initialise weights randomly instead of reading the checkpoint."
    )
    tokenizer: Optional[str] = Field(default=None, description="The tokenizer source; None for the model's.")
    trust_remote_code: bool = Field(
        default=False,
        description="Let the model factory run Python code shipped with the checkpoint (`auto_map`); "
        "off by default: a checkpoint folder from anywhere must not run code.",
    )
    dtype: str = Field(
        default="auto",
        description="The weights' dtype: `auto` keeps the checkpoint's, or a name such as `float32`, `bfloat16`.",
    )
    max_seq_len: int = Field(default=512, ge=2, description="The longest sequence the model will see.")
    max_batch_size: int = Field(default=8, ge=1, description="The largest batch the model will see.")
    device: str = Field(
        default="cpu", description="The device the model runs on (`cpu` by default: the one every machine has)."
    )
    world_size: int = Field(default=1, ge=1, description="The number of processes (ranks) the model runs on.")

    _sources: SourceMap = PrivateAttr(default_factory=SourceMap)

    @field_validator("model", "tokenizer", mode="before")
    @classmethod
    def _accept_paths(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    def unused_keys(self) -> list[str]:
        """Top-level keys kept from the input that autodeploy itself does not use."""
        return sorted((self.model_extra or {}).keys())

    def source_of(self, path: Union[str, Sequence[str]]) -> str:
        """The config layer (file, ``--set ...``, ``mode graph``, ``<python>``) that set `path`."""
        parts = path.split(".") if isinstance(path, str) else path
        return self._sources.source_of(parts) or PYTHON_SOURCE

    def sources_under(self, path: Union[str, Sequence[str]]) -> list[str]:
        """Every layer that set `path` or a field below it, lowest first (e.g. a mode and a file)."""
        parts = path.split(".") if isinstance(path, str) else path
        return self._sources.sources_under(parts) or [self.source_of(parts)]


def build_pipeline_config(
    host: PluginHost,
    *,
    data: Optional[Mapping[str, Any]] = None,
    files: Iterable[Union[str, os.PathLike[str]]] = (),
    overrides: Iterable[Union[str, Override]] = (),
    mode: Optional[str] = None,
) -> PipelineConfig:
    """Merge the layers of a pipeline config: mode preset <- `data` <- `files` <- `overrides`.

    The mode is `mode` if given, else the last ``mode:`` the layers set; None means no preset.
    Transform entries are merged but not validated here (see `validate_transforms`).
    """
    if isinstance(files, (str, os.PathLike)):  # one path given where a list was meant
        files = [files]
    if isinstance(overrides, (str, Override)):
        overrides = [overrides]
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if data is not None:
        layers.append((PYTHON_SOURCE, normalize_layout(data)))
    layers.extend((os.fspath(path), load_config_file(path)) for path in files)
    parsed_overrides = [item if isinstance(item, Override) else parse_override(item) for item in overrides]

    mode_name, where = _chosen_mode(mode, layers, parsed_overrides)
    if mode_name is not None:
        layers.insert(0, (mode_source(mode_name), {TRANSFORMS_KEY: _mode_preset(host, mode_name, where)}))

    merged: dict[str, Any] = {}
    sources = SourceMap()
    for source, layer in layers:
        sources.record_layer(merged, layer, source)
        merged = deep_merge(merged, layer)
    for override in parsed_overrides:
        layer = override_layer(merged, override)
        sources.record_layer(merged, layer, override.source)
        merged = deep_merge(merged, layer)
    if mode is not None:
        merged["mode"] = mode

    try:
        config = PipelineConfig.model_validate(merged)
    except ValidationError as exc:
        raise config_error_from_validation(exc, source_of=sources.source_of) from None
    config._sources = sources
    _check_unused_keys(config, host)
    return config


def normalize_layout(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept AutoDeploy's Python layout too: a flat mapping of key -> entry (each with a `stage`)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"config data must be a mapping, got {yaml_type_name(data)}", source=PYTHON_SOURCE)
    if TRANSFORMS_KEY not in data and data and all(isinstance(v, Mapping) and "stage" in v for v in data.values()):
        return {TRANSFORMS_KEY: dict(data)}
    return data


def _chosen_mode(
    mode: Optional[str], layers: Sequence[tuple[str, Mapping[str, Any]]], overrides: Sequence[Override]
) -> tuple[Optional[str], Optional[str]]:
    """The mode name and the layer that chose it (None when it is the `mode` argument)."""
    if mode is not None:
        return mode, None
    chosen: tuple[Optional[str], Optional[str]] = (None, None)
    for source, layer in layers:
        if layer.get("mode") is not None:
            chosen = (layer["mode"], source)
    for override in overrides:
        if override.path == ("mode",):
            chosen = (override.value, override.source)
    if chosen[0] is not None and not isinstance(chosen[0], str):
        raise ConfigError(
            f"expected a mode name, got {chosen[0]!r} ({yaml_type_name(chosen[0])})", source=chosen[1], path="mode"
        )
    return chosen


def _mode_preset(host: PluginHost, name: str, where: Optional[str]) -> dict[str, Any]:
    modes = host.modes()
    if name not in modes:
        available = suggestion(name, modes)
        held = host.held_back()  # an allow list that matches nothing, autoload off...
        raise ConfigError(
            f"unknown mode {name!r} ({available})" + (f"; {held}" if held else ""), source=where, path="mode"
        )
    return dict(host.mode(name))


def _check_unused_keys(config: PipelineConfig, host: PluginHost) -> None:
    unused = config.unused_keys()
    if not unused:
        return
    transform_keys = host.transforms()
    for key in unused:
        if key in transform_keys:
            raise ConfigError(
                f"{key!r} is a transform key at the top level; transform entries go under `transforms:`",
                source=config.source_of([key]),
                path=key,
            )
    logger.debug("top-level settings kept but not used by autodeploy: %s", ", ".join(unused))
