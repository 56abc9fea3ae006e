"""Instantiating a transformers model from its config on a device, with or without initialisation.

Three cases, chosen by the caller:

- ``meta``: structure only, no parameter storage (weight initialisation skipped: it would do
  nothing on meta but cost time);
- another device, weights to be loaded afterwards: storage allocated there but left
  uninitialised (loading overwrites it, so random init would be wasted work);
- another device, weights not loaded (``skip_loading_weights``): initialised as transformers
  initialises a fresh model.

Module constructors still run normally in every case, so non-persistent buffers (rotary
``inv_freq``) are computed on real devices; on meta they are placeholders (see `buffers`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import checkpoint_error, describe_exception
from .loading import tie_weights

if TYPE_CHECKING:
    import torch
    from torch import nn
    from transformers import PretrainedConfig


def auto_class(name: str) -> Any:
    """The transformers auto class called `name` (``AutoModelForCausalLM``...)."""
    import transformers

    return getattr(transformers, name)


def build_from_config(
    auto_class_name: str,
    config: PretrainedConfig,
    *,
    dtype: torch.dtype,
    device: str,
    initialise: bool,
    trust_remote_code: bool,
    config_path: Path,
) -> nn.Module:
    """A model of `config` on `device` in `dtype`, in eval mode; initialised only if `initialise`.

    `config` is consumed (transformers records the dtype on it): pass a copy you own.
    """
    import torch
    from transformers.initialization import no_init_weights

    skip_init = device == "meta" or not initialise
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.device(device))
        if skip_init:
            stack.enter_context(no_init_weights())
        try:
            model = auto_class(auto_class_name).from_config(config, dtype=dtype, trust_remote_code=trust_remote_code)
        except ValueError as exc:
            if "Unrecognized configuration class" not in str(exc):
                raise
            raise checkpoint_error(
                config_path,
                f"model_type {config.model_type!r} ({type(config).__name__}) has no {auto_class_name} model in "
                "transformers; use the model factory for its kind of model",
            ) from exc
        except Exception as exc:  # noqa: BLE001 - a config transformers accepts but cannot build a model from
            raise checkpoint_error(
                config_path, f"transformers cannot build a model from this config ({describe_exception(exc)})"
            ) from exc
    if skip_init:
        tie_weights(model)  # no_init_weights also skips the tying that init_weights does
    return model.eval()
