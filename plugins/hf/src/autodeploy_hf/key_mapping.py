"""Matching a checkpoint's tensor names and shapes to the model built from its config.

Checkpoint names are not always the model's state-dict names: a checkpoint may lack or carry the
base-model prefix (``model.``, ``transformer.``), and transformers renames legacy layouts on load
(e.g. a Llava checkpoint's ``language_model.model.*`` is the model's ``model.language_model.*``).
`KeyMapper` applies the same renamings transformers registers for the model, so that streaming
loaders see the model's own names. Checkpoints that need more than renaming (transformers' fusing
"converters", e.g. per-expert MoE weights stacked into one tensor) are detected and reported:
only ``from_pretrained`` (the ``transformers`` mode) performs those.

`check_specs_against_model` compares names, shapes and dtypes (from headers) before anything is
loaded, so a checkpoint that does not fit its config is reported naming the tensors and files at
fault.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from autodeploy import first_few

from .checkpoint import TensorSpec
from .errors import checkpoint_error, list_names
from .tensor_dtypes import dtype_fits, dtype_name

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

logger = logging.getLogger(__name__)


class KeyMapper:
    """Checkpoint tensor name -> the model's state-dict name (None: the model has no such tensor)."""

    def __init__(self, model: nn.Module):
        self._model_keys = set(model.state_dict(keep_vars=True).keys())
        self._prefix: Optional[str] = getattr(model, "base_model_prefix", None) or None
        self._renamings, self._converters = _conversion_mapping(model)

    def needs_conversion(self, checkpoint_name: str) -> bool:
        """Whether this tensor only loads through a transformers converter (fusing, splitting...)."""
        renamed = self._renamed(checkpoint_name)
        return any(converter.rename_source_key(renamed)[1] is not None for converter in self._converters)

    def model_name(self, checkpoint_name: str) -> Optional[str]:
        if checkpoint_name in self._model_keys:
            return checkpoint_name
        renamed = self._with_prefix_fixed(self._renamed(checkpoint_name))
        return renamed if renamed in self._model_keys else None

    def _renamed(self, name: str) -> str:
        for renaming in self._renamings:
            name, _ = renaming.rename_source_key(name)
        return name

    def _with_prefix_fixed(self, name: str) -> str:
        """Add or strip the base-model prefix when that gives one of the model's names."""
        if name in self._model_keys or not self._prefix:
            return name
        prefixed = f"{self._prefix}.{name}"
        if prefixed in self._model_keys:
            return prefixed
        if name.startswith(f"{self._prefix}."):
            return name[len(self._prefix) + 1 :]
        return name


def _conversion_mapping(model: nn.Module) -> tuple[list[Any], list[Any]]:
    """transformers' renamings and converters for `model`; empty when this transformers has none."""
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import WeightConverter, WeightRenaming
    except ImportError:  # older/newer transformers without this machinery: exact names and prefixes only
        return [], []
    try:
        transforms = get_model_conversion_mapping(model, None, None)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - a mapping that cannot be built must not stop a plain load
        logger.debug("no weight conversion mapping for %s: %s", type(model).__name__, exc)
        return [], []
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    return renamings, converters


@dataclass
class SpecCheck:
    """The outcome of comparing checkpoint headers with the model."""

    missing: list[str] = field(default_factory=list)  # model names no checkpoint tensor provides
    unexpected: list[str] = field(default_factory=list)  # checkpoint names the model has no tensor for
    shape_mismatches: list[str] = field(default_factory=list)  # "name in file: checkpoint (...) vs model (...)"
    # "name in file: checkpoint int32 vs model float32": values no cast turns into that model tensor
    dtype_mismatches: list[str] = field(default_factory=list)
    needs_conversion: list[str] = field(default_factory=list)  # checkpoint names only from_pretrained converts


def check_specs_against_model(
    specs: Mapping[str, TensorSpec], model: nn.Module, mapper: Optional[KeyMapper] = None
) -> SpecCheck:
    """Compare checkpoint names, shapes and dtypes (from headers) with the model's parameters and buffers."""
    mapper = mapper or KeyMapper(model)
    model_tensors = model.state_dict(keep_vars=True)
    result = SpecCheck()
    provided: set[str] = set()
    for checkpoint_name, spec in specs.items():
        if mapper.needs_conversion(checkpoint_name):
            result.needs_conversion.append(checkpoint_name)
            continue
        model_name = mapper.model_name(checkpoint_name)
        if model_name is None:
            result.unexpected.append(checkpoint_name)
            continue
        provided.add(model_name)
        model_tensor = model_tensors[model_name]
        expected = tuple(model_tensor.shape)
        if spec.shape != expected:
            result.shape_mismatches.append(
                f"{checkpoint_name} in {spec.file.name}: checkpoint {list(spec.shape)} vs model {list(expected)}"
            )
        if not dtype_fits(spec.dtype, model_tensor.dtype):
            result.dtype_mismatches.append(
                f"{checkpoint_name} in {spec.file.name}: "
                f"checkpoint {spec.dtype} vs model {dtype_name(model_tensor.dtype)}"
            )
    if not result.needs_conversion:  # converted tensors provide names we cannot enumerate from headers
        result.missing = sorted(missing_names(model, set(model_tensors), provided))
    result.unexpected = [name for name in result.unexpected if not _ignored(model, name, "unexpected")]
    return result


def missing_names(model: nn.Module, model_names: set[str], provided: set[str]) -> set[str]:
    """The model tensors `provided` leaves without values, tied pairs and declared exceptions aside."""
    missing = model_names - provided
    for target, source in _tied_weights(model).items():
        # a tied pair is complete when either side is in the checkpoint (transformers ties symmetrically)
        if target in missing and source not in missing:
            missing.discard(target)
        elif source in missing and target not in missing:
            missing.discard(source)
    return {name for name in missing if not _ignored(model, name, "missing")}


def _tied_weights(model: nn.Module) -> dict[str, str]:
    tied = getattr(model, "all_tied_weights_keys", None)
    return dict(tied) if isinstance(tied, Mapping) else {}


def _ignored(model: nn.Module, name: str, kind: str) -> bool:
    """Whether the model declares `name` as ignorable when missing/unexpected at load time."""
    patterns = getattr(model, f"_keys_to_ignore_on_load_{kind}", None) or ()
    return any(re.search(pattern, name) for pattern in patterns)


def raise_for_spec_problems(
    check: SpecCheck, checkpoint: Path, files: Iterable[Path], *, allow_conversion: bool
) -> None:
    """Raise a `CheckpointError` for names/shapes/dtypes that do not fit; log tensors the model will not use.

    Unexpected tensors are only logged: a config override such as ``num_hidden_layers: 1``
    deliberately leaves checkpoint tensors unused (as ``from_pretrained`` does).
    """
    file_names = ", ".join(sorted(path.name for path in files))
    if check.shape_mismatches:
        raise checkpoint_error(
            checkpoint,
            f"{len(check.shape_mismatches)} tensors do not have the shapes the config gives: "
            f"{_first_few(check.shape_mismatches)} (is config.json the one of these weights? are model_kwargs "
            "changing sizes?)",
        )
    if check.dtype_mismatches:
        raise checkpoint_error(
            checkpoint,
            f"{len(check.dtype_mismatches)} tensors have dtypes the model's tensors cannot take: "
            f"{_first_few(check.dtype_mismatches)} (a load would silently cast integer, bool or complex values "
            "into meaningless weights; are these the weights of this model?)",
        )
    if check.missing:
        raise checkpoint_error(
            checkpoint,
            f"the model built from its config has {len(check.missing)} tensors that no weight file ({file_names}) "
            f"holds: {list_names(check.missing)}",
        )
    if check.needs_conversion and not allow_conversion:
        raise checkpoint_error(
            checkpoint,
            f"{len(check.needs_conversion)} tensors ({list_names(check.needs_conversion)}) need transformers' weight "
            "conversion (e.g. fused experts), which streaming does not do; load it with build_and_load_factory_model "
            "(the transformers mode)",
        )
    if check.unexpected:
        logger.warning(
            "%s: %d checkpoint tensors are not used by the model built from its config: %s",
            checkpoint,
            len(check.unexpected),
            list_names(check.unexpected),
        )


def _first_few(problems: list[str], limit: int = 8) -> str:
    """The first `limit` problems (sorted), '; '-separated, then how many more there are."""
    return first_few(problems, limit, separator="; ")
