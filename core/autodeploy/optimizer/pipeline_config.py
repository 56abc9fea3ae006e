"""`PipelineConfig`: a whole pipeline's settings, merged from a mode preset and the user's layers.

The layout is AutoDeploy's: a top-level ``transforms:`` mapping of transform key -> entry, next to
settings such as ``model``, ``model_factory`` and ``max_seq_len``, and AutoDeploy's shortcuts
(``compile_backend``, ``attn_backend``, ``cuda_graph_batch_sizes``, ``world_size``, ...), which
`top_level` applies to the transforms. The experiment layout (``model:`` + ``args:``) is read too.

Layers, lowest first: the mode preset, Python data, YAML files in order, ``--set`` overrides.
They are deep-merged by key, so a layer that overrides one field of an entry keeps the entry's
other fields. Every error names the layer to edit, and every problem is collected (see
`problems`) so that all of them are reported at once.

The mode, the same for ``validate``, ``run`` and the Python API: the `mode` argument (``--mode``)
if given (it wins over the files, with a warning when a file says otherwise), else the last
``mode:`` a layer sets (``mode: null`` for no preset), else ``graph`` when a plugin provides it.
AutoDeploy's flat Python layout (key -> entry, no ``transforms:``) means exactly those transforms,
no preset, as AutoDeploy's ``InferenceOptimizer`` takes them.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ..catalogue import order_like_autodeploy
from ..errors import ConfigError
from ..mappings import deep_merge
from .overrides import TRANSFORMS_KEY, Override, override_layer, parse_override
from .problems import ProblemKind, ProblemList
from .provenance import SourceMap
from .suggestions import suggestion
from .top_level import apply_top_level, lift_experiment_layout, lift_experiment_override
from .validation import ConfigWarning
from .validation_messages import config_errors_from_validation, is_missing_stage, yaml_type_name
from .yaml_loading import load_config_file

if TYPE_CHECKING:
    from ..plugin import PluginHost

logger = logging.getLogger(__name__)

PYTHON_SOURCE = "<python>"
"""How errors name config data handed over from Python (a dict or keyword arguments)."""

DEFAULT_MODEL_FACTORY = "AutoModelForCausalLM"

DEFAULT_MODE = "graph"
"""The mode when no layer and no argument names one (AutoDeploy's default too)."""


def mode_source(name: str) -> str:
    """How errors name a mode preset: ``mode graph``."""
    return f"mode {name}"


class CudaGraphConfig(BaseModel):
    """AutoDeploy's ``cuda_graph_config``: only `batch_sizes` means something to this pipeline."""

    model_config = ConfigDict(extra="allow")

    batch_sizes: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        default=None, description="The batch sizes to capture CUDA graphs for."
    )


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
    tensor_parallel_size: Optional[int] = Field(
        default=None, ge=1, description="AutoDeploy's other name for `world_size` (it parallelises by world size)."
    )
    max_num_tokens: Optional[int] = Field(
        default=None,
        ge=1,
        description="The most tokens one step may carry (prefill chunks included); None: max_batch_size * max_seq_len.",
    )
    compile_backend: Optional[str] = Field(
        default=None, description="Shortcut for `transforms.compile_model.backend` (wins over it when set)."
    )
    attn_backend: Optional[str] = Field(
        default=None,
        description="Shortcut for the cached-attention transforms' `backend` (insert_cached_attention, "
        "transformers_replace_cached_attn), when installed.",
    )
    cuda_graph_batch_sizes: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        default=None,
        description="Shortcut for `transforms.compile_model.cuda_graph_batch_sizes`; clamped to max_batch_size "
        "and sorted largest first, as AutoDeploy does.",
    )
    cuda_graph_config: Optional[CudaGraphConfig] = Field(
        default=None, description="`batch_sizes` here is the same as `cuda_graph_batch_sizes`."
    )
    allow_unavailable: bool = Field(
        default=False,
        description="Skip AutoDeploy transforms that no installed plugin provides (one warning lists them), and "
        "fall back to an installed backend for a missing attention or compile backend.",
    )

    _sources: SourceMap = PrivateAttr(default_factory=SourceMap)
    _validated: dict[tuple[bool, bool], list[Any]] = PrivateAttr(default_factory=dict)

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
    strict: bool = False,
    allow_unavailable: Optional[bool] = None,
    problems: Optional[ProblemList] = None,
) -> PipelineConfig:
    """Merge the layers of a pipeline config: mode preset <- `data` <- `files` <- `overrides`.

    The mode is chosen as the module docstring says. Top-level options are applied to the
    transforms; transform entries are merged but not validated here (see `validate_transforms`,
    or `resolve_pipeline` for both). Problems are collected into `problems` when given (the
    caller raises them), else raised at the end, all together.
    """
    own = problems is None
    problems = problems if problems is not None else ProblemList()
    if isinstance(files, (str, os.PathLike)):  # one path given where a list was meant
        files = [files]
    if isinstance(overrides, (str, Override)):
        overrides = [overrides]
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if data is not None:
        layers.append((PYTHON_SOURCE, lift_experiment_layout(normalize_layout(data), PYTHON_SOURCE, problems)))
    for path in files:
        layers.append((os.fspath(path), lift_experiment_layout(load_config_file(path), os.fspath(path), problems)))
    parsed_overrides = [
        lift_experiment_override(item if isinstance(item, Override) else parse_override(item)) for item in overrides
    ]

    mode_name, where = _chosen_mode(mode, layers, parsed_overrides)
    if mode_name is None and not _mode_named(mode, layers, parsed_overrides):
        if DEFAULT_MODE in host.modes():
            mode_name = DEFAULT_MODE
        elif not host.modes() and not _names_transforms(layers, parsed_overrides):
            # no mode at all and nothing to run: say the default mode is missing (and why: an allow list...)
            _mode_preset(host, DEFAULT_MODE, None, problems)
    if mode_name is not None:
        preset = _mode_preset(host, mode_name, where, problems)
        if preset is not None:
            layers.insert(0, (mode_source(mode_name), {TRANSFORMS_KEY: preset}))
        else:
            mode_name = None

    merged: dict[str, Any] = {}
    sources = SourceMap()
    for source, layer in layers:
        sources.record_layer(merged, layer, source)
        merged = deep_merge(merged, layer)
    for override in parsed_overrides:
        layer = override_layer(merged, override)
        sources.record_layer(merged, layer, override.source)
        merged = deep_merge(merged, layer)
    merged["mode"] = mode_name

    config = _validated_top_level(merged, sources, problems)
    config._sources = sources
    config = apply_top_level(config, host, problems, strict=strict, allow_unavailable=allow_unavailable)
    config._sources = sources
    if own:
        problems.raise_if_any()
    return config


def _validated_top_level(merged: dict[str, Any], sources: SourceMap, problems: ProblemList) -> PipelineConfig:
    """The `PipelineConfig`; settings with bad values are reported and left at their defaults."""
    try:
        return PipelineConfig.model_validate(merged)
    except ValidationError as exc:
        errors = config_errors_from_validation(exc, source_of=sources.source_of)
        bad = {str(problem["loc"][0]) for problem in exc.errors() if problem["loc"]}
    for error in errors:
        problems.add(ProblemKind.MISSING_STAGE if is_missing_stage(error) else ProblemKind.TOP_LEVEL, error)
    try:
        return PipelineConfig.model_validate({key: value for key, value in merged.items() if key not in bad})
    except ValidationError:  # nothing more to learn from it: keep what validated
        return PipelineConfig(mode=merged.get("mode") if isinstance(merged.get("mode"), str) else None)


def normalize_layout(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept AutoDeploy's Python layout too: a flat mapping of key -> entry (each with a `stage`)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"config data must be a mapping, got {yaml_type_name(data)}", source=PYTHON_SOURCE)
    if TRANSFORMS_KEY not in data and data and all(isinstance(v, Mapping) and "stage" in v for v in data.values()):
        return {TRANSFORMS_KEY: dict(data), "mode": None}  # AutoDeploy's InferenceOptimizer: exactly these
    return data


def _mode_named(
    mode: Optional[str], layers: Sequence[tuple[str, Mapping[str, Any]]], overrides: Sequence[Override]
) -> bool:
    """Whether anything named a mode, ``mode: null`` (no preset) included."""
    return (
        mode is not None
        or any("mode" in layer for _, layer in layers)
        or any(override.path == ("mode",) for override in overrides)
    )


def _names_transforms(layers: Sequence[tuple[str, Mapping[str, Any]]], overrides: Sequence[Override]) -> bool:
    """Whether any layer or override gives transform entries (a pipeline without a preset)."""
    return any(layer.get(TRANSFORMS_KEY) for _, layer in layers) or any(
        override.path[:1] == (TRANSFORMS_KEY,) for override in overrides
    )


def _chosen_mode(
    mode: Optional[str], layers: Sequence[tuple[str, Mapping[str, Any]]], overrides: Sequence[Override]
) -> tuple[Optional[str], Optional[str]]:
    """The mode name and the layer that chose it (None when it is the `mode` argument)."""
    chosen: tuple[Optional[str], Optional[str]] = (None, None)
    for source, layer in layers:
        if "mode" in layer:
            chosen = (layer["mode"], source)
    for override in overrides:
        if override.path == ("mode",):
            chosen = (override.value, override.source)
    if mode is not None:
        if chosen[0] is not None and chosen[0] != mode:
            warnings.warn(f"--mode {mode} overrides `mode: {chosen[0]}` of {chosen[1]}", ConfigWarning, stacklevel=4)
        return mode, None
    if chosen[0] is not None and not isinstance(chosen[0], str):
        raise ConfigError(
            f"expected a mode name, got {chosen[0]!r} ({yaml_type_name(chosen[0])})", source=chosen[1], path="mode"
        )
    return chosen


def _mode_preset(host: PluginHost, name: str, where: Optional[str], problems: ProblemList) -> Optional[dict[str, Any]]:
    """The preset's entries, in AutoDeploy's order for that mode; None (a problem noted) if unknown."""
    modes = host.modes()
    if name not in modes:
        available = suggestion(name, modes)
        held = host.held_back()  # an allow list that matches nothing, autoload off...
        message = f"unknown mode {name!r} ({available})" + (f"; {held}" if held else "")
        problems.add(ProblemKind.MODE, ConfigError(message, source=where, path="mode"))
        return None
    return order_like_autodeploy(name, dict(host.mode(name)))
