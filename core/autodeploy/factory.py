"""The model factory interface: how a transform gets a model without knowing where it comes from.

Factories are plugins (registered through ``autodeploy_register_factories``) and are chosen by
name in a pipeline config (``model_factory: AutoModelForCausalLM``). The names and methods match
AutoDeploy's ``ModelFactory`` so that its transforms port unchanged.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn


class ModelFactory(ABC):
    """An interface to return and correctly initialize a model from a desired source.

    NOTE: we make the assumption that the model can be prompted with a set of input_ids of shape
    (batch_size, seq_len) and will return logits of shape (batch_size, seq_len, vocab_size).
    """

    def __init__(
        self,
        model: Optional[str] = None,
        model_kwargs: Optional[Mapping[str, Any]] = None,
        skip_loading_weights: bool = False,
        tokenizer: Optional[str] = None,
        max_seq_len: int = 512,
        **kwargs: Any,
    ):
        self._model = str(model) if model is not None else None
        self.model_kwargs: dict[str, Any] = copy.deepcopy(dict(model_kwargs or {}))
        self.skip_loading_weights = skip_loading_weights
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        if kwargs:
            # never stored and ignored: a misspelt option, or one this factory does not support
            # (e.g. the config's dtype), would otherwise change nothing without a word
            raise ConfigError(
                f"model factory {type(self).__name__} does not take the option(s) {', '.join(sorted(kwargs))}",
                path="model_factory",
            )

    @property
    def model(self) -> Optional[str]:
        """The model source: a local checkpoint folder (or whatever the factory understands)."""
        return self._model

    @property
    def model_path(self) -> Optional[Path]:
        return Path(self._model) if self._model is not None else None

    def build_model(self, device: str) -> nn.Module:
        """Build the model on `device` without loading weights.

        On ``"meta"`` no parameter storage is allocated; on any other device the parameters are
        initialised only if the weights will not be loaded (``skip_loading_weights``).
        """
        return self._build_model(device)

    @abstractmethod
    def _build_model(self, device: str) -> nn.Module:
        """Factory-specific model building logic."""

    def build_and_load_model(self, device: str) -> nn.Module:
        """Build and load the model in one go (e.g. ``from_pretrained``).

        Factories that cannot do it at once leave this as is: the transform that asks reports a
        clear error naming the factory.
        """
        raise NotImplementedError(
            f"model factory {type(self).__name__} cannot build and load a model at once "
            "(it does not implement build_and_load_model); use build_model + load_weights instead"
        )

    def load_or_random_init(self, model: nn.Module, device: str) -> None:
        """Load the checkpoint into `model` on `device`, or initialise it randomly when
        weights are skipped (``skip_loading_weights``)."""
        if self.skip_loading_weights:
            self._random_init(model, device)
        else:
            self._load_checkpoint(model, device)

    def _random_init(self, model: nn.Module, device: str) -> None:
        """Materialise `model` on `device` with fresh random parameters (no checkpoint read)."""
        model.to_empty(device=device)
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()

    @abstractmethod
    def _load_checkpoint(self, model: nn.Module, device: str) -> None:
        """Load the checkpoint into the model."""

    def checkpoint_files(self) -> list[Path]:
        """The weight files of the checkpoint, in load order; [] for factories without files."""
        return []

    def iter_checkpoint_shards(self) -> Iterator[tuple[str, Mapping[str, torch.Tensor]]]:
        """Yield the checkpoint one shard at a time as (shard file name, {tensor name: tensor}).

        Streaming loaders (``load_weights``) consume one shard before asking for the next, so a
        load holds at most the model plus one shard. Tensor names are the model's state-dict
        names. Factories whose models cannot be loaded this way raise NotImplementedError.
        """
        raise NotImplementedError(f"model factory {type(self).__name__} cannot stream its checkpoint")

    def get_quant_config(self) -> dict[str, Any]:
        """How the checkpoint is quantised, for the ``*_from_config`` quantization transforms
        (AutoDeploy's method); ``{}`` when it is not (the default). A GGUF checkpoint says
        ``{"quant_method": "gguf", "tensor_types": {tensor name: GGUF type}}``."""
        return {}

    def init_buffers(self, device: str) -> dict[str, torch.Tensor]:
        """Non-persistent buffers (not in checkpoints, e.g. rotary ``inv_freq``) computed on `device`.

        After a meta build these stay on meta; weight loaders put these in their place.
        Keys are the model's buffer names. The default has none.
        """
        return {}

    def init_tokenizer(self) -> Any:
        """The tokenizer for this model, or None when the factory has none."""
        return None

    def end_of_sequence_ids(self) -> list[int]:
        """Token ids that end an answer, as the model's source declares them (for generation).

        Chat models often end a turn with a token other than the tokenizer's EOS, which only the
        model's own generation settings name. The default knows none.
        """
        return []

    def describe(self) -> str:
        """One line naming the factory and its source, for messages and reports."""
        return f"{type(self).__name__}(model={self._model!r})"
