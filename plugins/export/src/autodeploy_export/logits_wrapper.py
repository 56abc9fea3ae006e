"""The module that is actually exported: ``forward(input_ids) -> logits``.

Hugging Face causal LMs return a ``ModelOutput`` holding the logits and, unless told otherwise,
a ``DynamicCache`` that torch.export cannot return. The wrapper calls the model with
``use_cache=False`` and returns the logits tensor alone, so the exported graph takes
``input_ids`` (and ``position_ids`` when the model accepts them, so that positions come from the
runtime) and returns one output (the logits), whatever the architecture.

The model is registered as the wrapper's only submodule, under `WRAPPED_MODEL_ATTR`; export
therefore names every parameter ``<WRAPPED_MODEL_ATTR>.<original name>``, and
`autodeploy_export.naming.hoist_wrapped_model` removes that prefix again afterwards.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from autodeploy.graph import logits_of

from .errors import ExportInputError

WRAPPED_MODEL_ATTR = "model"


def _forward_parameters(model: nn.Module) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # builtins / C++ modules have no signature: assume **kwargs
        return {}


class LogitsWrapper(nn.Module):
    """Calls `model` on ``input_ids`` for inference and returns only the logits tensor."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.add_module(WRAPPED_MODEL_ATTR, model)
        params = _forward_parameters(model)
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        # Hugging Face models accept `use_cache` (explicitly or through **kwargs with a config
        # that knows it); plain torch modules would reject an unknown keyword.
        knows_cache = "use_cache" in params or (takes_kwargs and hasattr(getattr(model, "config", None), "use_cache"))
        self._call_kwargs = {"use_cache": False} if knows_cache else {}
        # a plain `forward(self, x)` gets the ids positionally
        self._ids_by_keyword = "input_ids" in params or takes_kwargs or not params
        # positions are a graph input only when the model names them (no guessing through **kwargs)
        self.takes_position_ids = "position_ids" in params

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        model = getattr(self, WRAPPED_MODEL_ATTR)
        extra: dict[str, Any] = dict(self._call_kwargs)
        if position_ids is not None:
            extra["position_ids"] = position_ids
        if self._ids_by_keyword:
            output = model(input_ids=input_ids, **extra)
        else:
            output = model(input_ids, **extra)
        return extract_logits(output, type(model).__name__)


def extract_logits(output: object, model_class: str) -> torch.Tensor:
    """The logits in whatever a model returns (the core's rule, shared with generation)."""
    try:
        return logits_of(output)
    except TypeError as exc:
        raise ExportInputError(f"{model_class}: {exc}; export_to_gm needs a model that returns logits") from None
