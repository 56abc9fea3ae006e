"""Capture an eager model as a ``torch.fx.GraphModule`` with torch.export (the work of ``export_to_gm``).

What the GraphModule looks like, and what the weight-loading step can rely on:

- It takes ``input_ids`` and, when the model accepts them, ``position_ids`` of the same shape
  (batch and sequence dynamic, within the sequence interface's limits), by position or by
  keyword (`call_convention`; positions default to ``0..L-1`` when a caller leaves them out), and
  returns the logits tensor
  (`LogitsWrapper`). Calls outside the limits are refused by torch's input check
  (``RuntimeError: Expected input at 'input_ids'.shape[0] to be <= 4``); that check is a
  forward hook, which ``copy.deepcopy`` of a GraphModule does not carry over.
- Naming convention: **the exported GraphModule's state_dict keys equal the original model's
  state_dict keys**, and so do its buffer names (`naming.hoist_wrapped_model`). A checkpoint
  of the eager model loads by name: ``gm.load_state_dict(shard, strict=False, assign=True)``.
- Non-persistent buffers (rotary ``inv_freq``) stay registered under their names, still
  non-persistent (not in ``state_dict()``): they are not in checkpoints, and after a meta build
  they hold no values; the loader recomputes them (``factory.init_buffers(device)``) and assigns
  them by name.
- Tied weights stay tied (one ``Parameter`` under every name), each use reads it through its
  own module's name (so graph cleanups keep every name), and a load pre-hook completes a tied
  group from whichever name a checkpoint has (`tied_weights`).
- ``device=meta`` is baked into tensor-creating nodes when the model was exported on meta; once
  the weights are loaded, `device_retarget.retarget_device` moves those nodes to the weights'
  device.
- It is inference-only: the graph was captured in eval mode; ``eval()`` works, ``train()``
  raises `InferenceOnlyGraphError` (torch's unlifted modules refuse both otherwise).
"""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from .call_convention import accept_positional_or_keyword_inputs
from .dynamic_shapes import INPUT_NAME, POSITIONS_NAME, DynamicSwitches, example_and_dynamic_shapes
from .errors import ExportInputError, InferenceOnlyGraphError, ModelExportError
from .export_cache import CACHE_HIT, CACHE_MISS, CACHE_NOT_CACHEABLE, CACHE_OFF, CACHE_REBUILT, ExportCache, export_key
from .failure import describe_export_failure
from .naming import hoist_wrapped_model
from .tied_weights import (
    install_tied_weights_load_hook,
    read_tied_by_own_name,
    register_missing_tied_names,
    tied_tensor_groups,
)

if TYPE_CHECKING:
    import torch
    from torch import fx, nn
    from torch.export import ExportedProgram

    from autodeploy import CachedSequenceInterface

logger = logging.getLogger(__name__)

EXPORT_META_KEY = "autodeploy_export"


@dataclass(frozen=True)
class ExportOptions:
    """The ``export_to_gm`` settings that shape the capture."""

    strict: bool = False
    clone_state_dict: bool = False
    dynamic_batch: bool = True
    dynamic_seq: bool = True


def export_model(
    model: nn.Module, cm: CachedSequenceInterface, options: ExportOptions, cache: Optional[ExportCache] = None
) -> fx.GraphModule:
    """Export `model` (eager, weights on meta or real) to a GraphModule ``input_ids -> logits``.

    With `cache`, a program exported earlier for the same model and settings is loaded instead
    (`export_cache`); ``gm.meta["autodeploy_export"]["cache"]`` says what happened (`CACHE_*`).
    """
    from .logits_wrapper import WRAPPED_MODEL_ATTR, LogitsWrapper

    model_class = type(model).__name__
    device = _model_device(model)
    wrapper = LogitsWrapper(model)
    names = (INPUT_NAME, POSITIONS_NAME) if wrapper.takes_position_ids else (INPUT_NAME,)
    if wrapper.takes_position_ids and POSITIONS_NAME not in cm.example_input_names:
        # positions come from the runtime from now on: the interface's examples carry them too
        cm.example_input_names = (*cm.example_input_names, POSITIONS_NAME)
    inputs, dynamic_shapes = example_and_dynamic_shapes(
        cm, device, DynamicSwitches(batch=options.dynamic_batch, seq=options.dynamic_seq), names
    )
    tied_groups = tied_tensor_groups(model)
    expected_keys = list(model.state_dict().keys())

    was_training = model.training
    model.eval()  # dropout and friends must be captured in inference form
    try:
        exported, cache_outcome = _export_or_load(wrapper, inputs, dynamic_shapes, options, cache, cm)
    except ExportInputError:
        raise
    except Exception as exc:
        failure = describe_export_failure(exc)
        raise ModelExportError(model_class, failure.location, failure.reason) from exc
    finally:
        model.train(was_training)

    # check_guards=False: torch then checks inputs in a forward pre-hook instead of inserting a
    # `_guards_fn` call that uses every input (which would hide unused inputs from cleanups)
    gm = exported.module(check_guards=False)
    hoist_wrapped_model(gm, WRAPPED_MODEL_ATTR)
    accept_positional_or_keyword_inputs(gm)
    _make_inference_only(gm)
    register_missing_tied_names(gm, tied_groups)
    read_tied_by_own_name(gm, tied_groups)
    install_tied_weights_load_hook(gm, tied_groups)
    if options.clone_state_dict:
        _clone_tensors(gm)
    _warn_on_name_mismatch(model_class, expected_keys, list(gm.state_dict().keys()))
    gm.meta[EXPORT_META_KEY] = {
        "model_class": f"{type(model).__module__}.{model_class}",
        "export_device": device,
        # what later transforms need to know of the model that the graph no longer says
        # (e.g. which layers attend over a sliding window)
        "model_config": _config_dict(model),
        "dynamic_shapes": _describe_dynamic_shapes(dynamic_shapes),
        "cache": cache_outcome,
    }
    return gm


def _export_or_load(
    wrapper: nn.Module,
    inputs: dict[str, torch.Tensor],
    dynamic_shapes: dict[str, Any],
    options: ExportOptions,
    cache: Optional[ExportCache],
    cm: CachedSequenceInterface,
) -> tuple[ExportedProgram, str]:
    """torch.export of `wrapper`, or its program from `cache`; and the cache's outcome."""
    import torch

    from .logits_wrapper import WRAPPED_MODEL_ATTR

    def export() -> ExportedProgram:
        return torch.export.export(
            wrapper, args=(), kwargs=inputs, dynamic_shapes=dynamic_shapes, strict=options.strict
        )

    if cache is None:
        return export(), CACHE_OFF
    dims = cm.dynamic_dims() if callable(getattr(cm, "dynamic_dims", None)) else {}
    switches = {"strict": options.strict, "dynamic_batch": options.dynamic_batch, "dynamic_seq": options.dynamic_seq}
    used = _describe_dynamic_shapes(dynamic_shapes)
    key = export_key(wrapper.get_submodule(WRAPPED_MODEL_ATTR), inputs, {"declared": dims, "used": used}, switches)
    if key is None:
        return export(), CACHE_NOT_CACHEABLE
    tensors = {
        **dict(wrapper.named_buffers(remove_duplicate=False)),
        **dict(wrapper.named_parameters(remove_duplicate=False)),
    }
    found = cache.lookup(key, tensors)
    if found.program is not None:
        return found.program, CACHE_HIT
    exported = export()
    stored = cache.store(key, exported)
    outcome = CACHE_REBUILT if found.outcome == CACHE_REBUILT else CACHE_MISS
    return exported, outcome if stored is not None else CACHE_NOT_CACHEABLE


def _describe_dynamic_shapes(dynamic_shapes: dict[str, Any]) -> dict[str, Any]:
    """``{input: {dim: (name, min, max)}}``: the dynamic dimensions export was given, as plain data."""
    return {
        name: {dim: (d.__name__, d.min, d.max) for dim, d in (dims or {}).items()}
        for name, dims in dynamic_shapes.items()
    }


def _config_dict(model: nn.Module) -> dict | None:
    """The model's configuration as a plain dict (Hugging Face ``config.to_dict()``), if it has one."""
    to_dict = getattr(getattr(model, "config", None), "to_dict", None)
    if not callable(to_dict):
        return None
    try:
        config = to_dict()
    except Exception:  # noqa: BLE001 - a foreign config object: the graph works without it
        return None
    return config if isinstance(config, dict) else None


def _model_device(model: nn.Module) -> str:
    """Where the model's tensors live (example inputs must live there too); meta when it has none."""
    for tensor in (*model.parameters(), *model.buffers()):
        return str(tensor.device)
    return "meta"


def _inference_only_train(self: nn.Module, mode: bool = True) -> nn.Module:
    """`train()` for an exported graph: eval mode is what it is; training it is an error."""
    import torch

    if mode:
        raise InferenceOnlyGraphError(
            "this GraphModule was exported for inference (eval mode, no dropout); it cannot be put in "
            "training mode. Call eval() or leave it as it is."
        )
    return torch.nn.Module.train(self, False)


def _make_inference_only(gm: fx.GraphModule) -> None:
    """Undo torch's ``train``/``eval`` overrides (both raise) so that a parent's ``eval()`` works."""
    vars(gm).pop("eval", None)
    gm.train = types.MethodType(_inference_only_train, gm)  # type: ignore[method-assign]


def _clone_tensors(gm: fx.GraphModule) -> None:
    """Give `gm` its own copy of every parameter and buffer; tensors shared by names stay shared."""
    import torch

    clones: dict[int, torch.Tensor] = {}
    for module in gm.modules():
        for name, param in list(module._parameters.items()):
            if param is not None:
                if id(param) not in clones:
                    clones[id(param)] = torch.nn.Parameter(param.detach().clone(), requires_grad=param.requires_grad)
                module._parameters[name] = clones[id(param)]  # type: ignore[assignment]
        for name, buffer in list(module._buffers.items()):
            if buffer is not None:
                if id(buffer) not in clones:
                    clones[id(buffer)] = buffer.detach().clone()
                module._buffers[name] = clones[id(buffer)]


def _warn_on_name_mismatch(model_class: str, expected: list[str], actual: list[str]) -> None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    if missing or extra:
        logger.warning(
            "exported %s does not keep the model's state-dict names (missing %s, extra %s): "
            "checkpoints may not load into it by name",
            model_class,
            missing[:5],
            extra[:5],
        )
