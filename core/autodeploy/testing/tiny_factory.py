"""`TinyLlamaFactory`: a real `ModelFactory` for the tiny Llama, with a real checkpoint on disk.

Plugin tests need a factory that behaves like the Hugging Face one (meta builds, streamed
safetensors shards, non-persistent buffers recomputed on the target device) but costs
milliseconds and needs neither transformers nor a model hub. torch is imported when a model is
built, not when this module is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import CheckpointError
from ..factory import ModelFactory

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .tiny_llama import TinyLlamaConfig

CONFIG_FILE = "tiny_llama.json"
WEIGHTS_FILE = "model.safetensors"


def write_tiny_checkpoint(folder: Union[str, Path], config: Optional[TinyLlamaConfig] = None, *, seed: int = 0) -> Path:
    """Save a seeded tiny Llama as a checkpoint folder (config JSON + one safetensors file)."""
    from safetensors.torch import save

    from .tiny_llama import TinyLlamaConfig, seeded_tiny_llama

    config = config or TinyLlamaConfig()
    model = seeded_tiny_llama(config, seed=seed)
    folder = Path(folder)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    atomic_write_text(folder / CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
    atomic_write_bytes(folder / WEIGHTS_FILE, save(state))
    return folder


class TinyLlamaFactory(ModelFactory):
    """Builds the tiny Llama of `autodeploy.testing` and loads its checkpoint folder (`model`).

    `model_kwargs` override the sizes of the checkpoint's config (``{"num_hidden_layers": 1}``).
    Without a checkpoint folder, `skip_loading_weights` must be set: the weights are then made
    from `seed`, so two factories with the same seed build the same model.
    """

    def __init__(
        self,
        model: Optional[str] = None,
        model_kwargs: Optional[Mapping[str, Any]] = None,
        skip_loading_weights: bool = False,
        seed: int = 0,
        **kwargs: Any,
    ):
        super().__init__(model=model, model_kwargs=model_kwargs, skip_loading_weights=skip_loading_weights, **kwargs)
        self.seed = seed

    def tiny_config(self) -> TinyLlamaConfig:
        """The checkpoint's config (defaults without a checkpoint), with `model_kwargs` applied."""
        from .tiny_llama import TinyLlamaConfig

        data: dict[str, Any] = {}
        config_file = self.model_path / CONFIG_FILE if self.model_path is not None else None
        if config_file is not None:
            try:
                data = json.loads(config_file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise CheckpointError(f"{config_file}: no tiny Llama config in the checkpoint folder") from None
            except (OSError, ValueError) as exc:
                raise CheckpointError(f"{config_file}: cannot read the tiny Llama config: {exc}") from exc
        data.update(self.model_kwargs)
        try:
            return TinyLlamaConfig.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"invalid tiny Llama config {data}: {exc}") from exc

    def _build_model(self, device: str) -> nn.Module:
        import torch

        from .tiny_llama import TinyLlamaForCausalLM

        with torch.device(device):
            model = TinyLlamaForCausalLM(self.tiny_config())
        return model.eval()

    def build_and_load_model(self, device: str) -> nn.Module:
        model = self.build_model("meta")
        self.load_or_random_init(model, device)
        return model

    def _load_checkpoint(self, model: nn.Module, device: str) -> None:
        from safetensors.torch import load_file

        weights = self._weights_file()
        try:
            state = load_file(str(weights), device=str(device))
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types for a bad file
            raise CheckpointError(f"{weights}: not a readable safetensors file: {exc}") from exc
        try:
            model.load_state_dict(state, assign=True, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{weights}: does not fit the tiny Llama: {exc}") from exc
        self._put_buffers(model, device)

    def _random_init(self, model: nn.Module, device: str) -> None:
        from .tiny_llama import seeded_tiny_llama

        seeded = seeded_tiny_llama(self.tiny_config(), seed=self.seed, device=device)
        model.load_state_dict(seeded.state_dict(), assign=True, strict=True)
        self._put_buffers(model, device)

    def _put_buffers(self, model: nn.Module, device: str) -> None:
        for name, value in self.init_buffers(device).items():
            owner_name, _, buffer_name = name.rpartition(".")
            model.get_submodule(owner_name).register_buffer(buffer_name, value, persistent=False)

    def _weights_file(self) -> Path:
        if self.model_path is None:
            raise CheckpointError(
                "TinyLlamaFactory has no checkpoint folder (model=None); pass one or set skip_loading_weights=True"
            )
        weights = self.model_path / WEIGHTS_FILE
        if not weights.is_file():
            raise CheckpointError(f"{weights}: missing (write one with autodeploy.testing.write_tiny_checkpoint)")
        return weights

    def checkpoint_files(self) -> list[Path]:
        if self.model_path is None or not (self.model_path / WEIGHTS_FILE).is_file():
            return []
        return [self.model_path / WEIGHTS_FILE]

    def iter_checkpoint_shards(self) -> Iterator[tuple[str, Mapping[str, torch.Tensor]]]:
        from safetensors.torch import load_file

        weights = self._weights_file()
        yield weights.name, load_file(str(weights))

    def init_buffers(self, device: str) -> dict[str, torch.Tensor]:
        from .tiny_llama import ROTARY_BUFFER, rotary_inv_freq

        return {ROTARY_BUFFER: rotary_inv_freq(self.tiny_config(), device)}

    def get_example_inputs(self, batch_size: int = 2, seq_len: int = 8) -> dict[str, torch.Tensor]:
        import torch

        generator = torch.Generator().manual_seed(self.seed)
        vocab_size = self.tiny_config().vocab_size
        return {"input_ids": torch.randint(0, vocab_size, (batch_size, seq_len), generator=generator)}
