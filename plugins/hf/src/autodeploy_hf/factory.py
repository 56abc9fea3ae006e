"""Model factories for Hugging Face checkpoint folders: ``AutoModelForCausalLM`` and
``AutoModelForImageTextToText`` (AutoDeploy's factory names).

A factory is made from a pipeline config in a line and does nothing until asked; then:

- ``build_model("meta")`` builds the model from ``config.json`` with no parameter storage (tens
  of milliseconds for a 70B model); another device builds there, initialising weights only when
  they will not be loaded (``skip_loading_weights``);
- ``build_and_load_model(device)`` builds and loads at once through ``from_pretrained``
  (or, for GGUF files, by building on the device and loading the dequantised tensors);
- ``iter_checkpoint_shards()`` streams the checkpoint one file at a time under the model's own
  tensor names, and ``init_buffers(device)`` computes what checkpoints do not hold (rotary
  ``inv_freq``), for the ``load_weights`` transform.

The folder is validated when the model is built: a missing folder, a missing or broken
``config.json``, truncated or corrupt weight files, a broken shard index, tensors whose names
or shapes do not fit the config and tensors whose dtype no cast makes a weight of the model
(integer, bool or complex values where it has floating-point weights; read from the headers) are
each reported as a `CheckpointError` naming the file and the problem. Checkpoint folders are only ever read. No code from the folder runs unless
``trust_remote_code`` is set.

This module imports neither torch nor transformers at import time (plugin hosts list factories
without paying for them); each method imports what it needs.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from autodeploy import ConfigError, ModelFactory

from .checkpoint import (
    GGUF_SUFFIX,
    CheckpointFormat,
    CheckpointLayout,
    TensorSpec,
    find_checkpoint,
    find_gguf_file,
    first_floating_dtype,
    iter_raw_shards,
    open_gguf_shard,
    read_tensor_specs,
)
from .errors import checkpoint_error, describe_exception, list_names
from .model_config import (
    CONFIG_FILE,
    apply_model_kwargs,
    check_remote_code,
    load_config,
    normalize_dtype_spec,
    read_config_dict,
    resolve_dtype,
)

if TYPE_CHECKING:
    import torch
    from torch import nn
    from transformers import PretrainedConfig

    from .gguf_shard import GGUFShard

logger = logging.getLogger(__name__)


class HFModelFactory(ModelFactory):
    """A model factory for a local Hugging Face checkpoint folder, built with one transformers auto class.

    Arguments beyond `ModelFactory`'s (AutoDeploy's names):

    - ``dtype`` (alias ``torch_dtype``): ``"auto"`` (the config's dtype, else the checkpoint's) or a
      floating dtype name such as ``"bfloat16"``;
    - ``trust_remote_code``: run Python code shipped with the checkpoint (``auto_map``); off by default;
    - ``gguf_file``: load weights (and config, tokenizer) from this GGUF file of the folder,
      dequantised. ``model`` may also name a ``.gguf`` file directly.
    """

    # The transformers auto class that builds the model; subclasses choose.
    auto_class_name: ClassVar[str] = "AutoModelForCausalLM"
    # Config values applied before the user's model_kwargs: export wants no KV cache in the outputs.
    model_defaults: ClassVar[Mapping[str, Any]] = {"use_cache": False}

    def __init__(
        self,
        model: Optional[str] = None,
        model_kwargs: Optional[Mapping[str, Any]] = None,
        skip_loading_weights: bool = False,
        tokenizer: Optional[str] = None,
        max_seq_len: int = 512,
        dtype: Any = "auto",
        torch_dtype: Any = None,
        trust_remote_code: bool = False,
        gguf_file: Optional[str] = None,
        **kwargs: Any,
    ):
        super().__init__(
            model=model,
            model_kwargs=model_kwargs,
            skip_loading_weights=skip_loading_weights,
            tokenizer=tokenizer,
            max_seq_len=max_seq_len,
            **kwargs,
        )
        self.dtype = _choose_dtype(dtype, torch_dtype)
        self.trust_remote_code = bool(trust_remote_code)
        self.gguf_file = gguf_file
        # filled on first use; the folder is only read, so one read per factory is enough
        self._config_cache: Optional[PretrainedConfig] = None
        self._layout_cache: Optional[CheckpointLayout] = None
        self._specs_cache: Optional[dict[str, TensorSpec]] = None
        self._gguf_shard: Optional[GGUFShard] = None  # opened by get_quant_config, taken by the load

    # ------------------------------------------------------------------ where the model comes from

    def model_folder(self) -> Path:
        """The checkpoint folder, checked to exist (a `CheckpointError` naming it otherwise)."""
        if self.model is None:
            raise ConfigError(
                f"{type(self).__name__} needs `model`: the path of a Hugging Face checkpoint folder", path="model"
            )
        path = Path(self.model).expanduser()
        if path.suffix == GGUF_SUFFIX and path.is_file():
            return path.parent
        if not path.exists():
            raise checkpoint_error(path, "model folder does not exist")
        if not path.is_dir():
            raise checkpoint_error(path, "not a folder: `model` must name a checkpoint folder (or a .gguf file)")
        return path

    def gguf_path(self) -> Optional[Path]:
        """The GGUF file to read: ``gguf_file``, ``model`` itself, or the folder's only .gguf when it has no config.json."""
        if self.model is not None and Path(self.model).suffix == GGUF_SUFFIX and Path(self.model).is_file():
            return Path(self.model).expanduser()
        folder = self.model_folder()
        if self.gguf_file is not None:
            name = Path(self.gguf_file)
            path = name if name.is_absolute() else folder / name
            if not path.is_file():
                raise checkpoint_error(path, "gguf_file names this file, but it does not exist")
            return path
        if not (folder / CONFIG_FILE).exists():
            return find_gguf_file(folder)  # a folder of GGUF files has no config.json
        return None

    def hf_config(self) -> PretrainedConfig:
        """The model's transformers config with the defaults and ``model_kwargs`` applied (a fresh copy)."""
        if self._config_cache is None:
            self._config_cache = self._read_config()
        config = copy.deepcopy(self._config_cache)
        apply_model_kwargs(config, self._defaults_for(config), warn_unknown=False)
        apply_model_kwargs(config, self.model_kwargs)
        return config

    def _read_config(self) -> PretrainedConfig:
        folder = self.model_folder()
        gguf = self.gguf_path()
        if gguf is None:
            config_dict = read_config_dict(folder)
            check_remote_code(config_dict, folder / CONFIG_FILE, self.auto_class_name, self.trust_remote_code)
        return load_config(folder, trust_remote_code=self.trust_remote_code, gguf_file=gguf)

    def _defaults_for(self, config: PretrainedConfig) -> dict[str, Any]:
        """The model defaults that apply: only keys the config (or its text config) already has."""
        defaults: dict[str, Any] = {}
        for key, value in self.model_defaults.items():
            if hasattr(config, key):
                defaults[key] = value
            text_config = getattr(config, "text_config", None)
            if text_config is not None and hasattr(text_config, key):
                defaults.setdefault("text_config", {})[key] = value
        return defaults

    def checkpoint_layout(self) -> CheckpointLayout:
        """The checkpoint's weight files (validated to exist and, for shards, to match their index)."""
        if self._layout_cache is None:
            self._layout_cache = find_checkpoint(self.model_folder(), self.gguf_path())
        return self._layout_cache

    def tensor_specs(self) -> dict[str, TensorSpec]:
        """Name -> shape/dtype/file of every checkpoint tensor, read from headers (every file opened)."""
        if self._specs_cache is None:
            self._specs_cache = read_tensor_specs(self.checkpoint_layout())
        return self._specs_cache

    def target_dtype(self, config: Optional[PretrainedConfig] = None) -> torch.dtype:
        """The dtype the model is built in (see ``dtype``)."""
        config = config if config is not None else self.hf_config()
        checkpoint_dtype = None
        if self.dtype == "auto" and not self.skip_loading_weights and getattr(config, "dtype", None) is None:
            checkpoint_dtype = first_floating_dtype(self.tensor_specs())
        return resolve_dtype(self.dtype, config, checkpoint_dtype)

    def _config_path(self) -> Path:
        gguf = self.gguf_path()
        return gguf if gguf is not None else self.model_folder() / CONFIG_FILE

    # ------------------------------------------------------------------ building

    def _build(self, device: str, *, initialise: bool, config: Optional[PretrainedConfig] = None) -> nn.Module:
        from .building import build_from_config

        config = config if config is not None else self.hf_config()
        return build_from_config(
            self.auto_class_name,
            config,
            dtype=self.target_dtype(config),
            device=device,
            initialise=initialise,
            trust_remote_code=self.trust_remote_code,
            config_path=self._config_path(),
        )

    def _build_model(self, device: str) -> nn.Module:
        """Build on `device`; with weights to load, validate the checkpoint against the model first."""
        model = self._build(device, initialise=self.skip_loading_weights)
        if not self.skip_loading_weights:
            self._validate_checkpoint(model, allow_conversion=False)
        return model

    def meta_skeleton(self) -> nn.Module:
        """A fresh model on meta: names, shapes and dtypes of everything, no storage."""
        return self._build("meta", initialise=False)

    def _validate_checkpoint(self, model: nn.Module, *, allow_conversion: bool) -> None:
        from .key_mapping import check_specs_against_model, raise_for_spec_problems

        layout = self.checkpoint_layout()
        specs = self.tensor_specs()
        if layout.format is CheckpointFormat.GGUF:
            return  # GGUF names map to the model only while loading; reading its config parsed the file
        check = check_specs_against_model(specs, model)
        raise_for_spec_problems(check, layout.folder, layout.files, allow_conversion=allow_conversion)

    def build_and_load_model(self, device: str) -> nn.Module:
        """Build and load in one go: ``from_pretrained`` (GGUF: build on `device`, then load)."""
        if device == "meta":
            raise ConfigError(
                "build_and_load_model cannot load weights onto the meta device; give a real device (cpu, cuda:0) "
                "or use build_model for a weightless model",
                path="device",
            )
        if self.skip_loading_weights:
            return self.build_model(device)
        config = self.hf_config()
        skeleton = self._build("meta", initialise=False, config=copy.deepcopy(config))
        self._validate_checkpoint(skeleton, allow_conversion=True)
        if self.checkpoint_layout().format is CheckpointFormat.GGUF:
            model = self._build(device, initialise=False, config=config)
            self._load_checkpoint(model, device)
            return model
        return self._from_pretrained(config, device)

    def _from_pretrained(self, config: PretrainedConfig, device: str) -> nn.Module:
        from .building import auto_class
        from .loading import place_buffers

        layout = self.checkpoint_layout()
        dtype = self.target_dtype(config)
        try:
            model = auto_class(self.auto_class_name).from_pretrained(
                str(layout.folder),
                config=config,
                dtype=dtype,
                local_files_only=True,
                trust_remote_code=self.trust_remote_code,
                use_safetensors=layout.format is CheckpointFormat.SAFETENSORS,
            )
        except Exception as exc:  # noqa: BLE001 - anything from_pretrained trips over is a checkpoint problem here
            raise checkpoint_error(layout.folder, f"from_pretrained failed ({describe_exception(exc)})") from exc
        if device != "cpu":
            model = model.to(device)
        # from_pretrained recomputes non-persistent buffers through _init_weights only; remote code
        # whose _init_weights ignores them would keep uninitialised memory. Ours are always computed.
        place_buffers(model, self.init_buffers(device))
        return model.eval()

    # ------------------------------------------------------------------ loading (streamed)

    def _random_init(self, model: nn.Module, device: str) -> None:
        """Materialise `model` on `device` initialised as transformers initialises a fresh model."""
        from .loading import initialise_like_transformers, place_buffers, tie_weights

        initialise_like_transformers(model, device)
        tie_weights(model)
        place_buffers(model, self.init_buffers(device))

    def _load_checkpoint(self, model: nn.Module, device: str) -> None:
        """Stream the checkpoint into `model` (e.g. built on meta), assigning tensors on `device`."""
        from .key_mapping import missing_names
        from .loading import assign_shards, place_buffers, tie_weights

        loaded = assign_shards(model, self.iter_checkpoint_shards(), device)
        missing = missing_names(model, set(model.state_dict(keep_vars=True)), loaded)
        if missing:
            layout = self.checkpoint_layout()
            raise checkpoint_error(
                layout.files[0] if len(layout.files) == 1 else layout.folder,
                f"{len(missing)} model tensors got no values from the checkpoint: {list_names(missing)}",
            )
        tie_weights(model)
        place_buffers(model, self.init_buffers(device))

    def checkpoint_files(self) -> list[Path]:
        """The weight files in load order ([] when weights are skipped)."""
        if self.skip_loading_weights:
            return []
        return list(self.checkpoint_layout().files)

    def iter_checkpoint_shards(self) -> Iterator[tuple[str, Mapping[str, torch.Tensor]]]:
        """Yield (file name, {model tensor name: tensor}) one weight file at a time.

        Names are the model's state-dict names (checkpoint names are renamed as transformers would,
        see `key_mapping`). Tensors keep the checkpoint's dtype and are lazy memory maps where the
        format allows (safetensors, .bin); loaders cast and place them. Tensors the model has no
        place for (e.g. layers dropped by a ``num_hidden_layers`` override) are left out; they were
        reported when the model was built. A GGUF file is one shard, dequantised.
        """
        from autodeploy.distributed import SafetensorsShard

        from .key_mapping import KeyMapper

        layout = self.checkpoint_layout()
        skeleton = self.meta_skeleton()
        mapper = KeyMapper(skeleton)
        if layout.format is CheckpointFormat.GGUF:
            # one lazy shard, already under the model's names: tensors are read when the loader asks;
            # the one get_quant_config opened is taken (parsing a GGUF header costs seconds) and let go
            shard: Optional[Mapping[str, Any]] = self._gguf_shard
            self._gguf_shard = None
            if shard is None:
                shard = open_gguf_shard(layout.files[0], skeleton, mapper.model_name)
            yield layout.files[0].name, shard
            return
        for path, tensors in iter_raw_shards(layout):
            renamed: dict[str, Any] = {}
            names: dict[str, str] = {}  # model name -> checkpoint name
            for name, tensor in tensors.items():
                if mapper.needs_conversion(name):
                    raise checkpoint_error(
                        path,
                        f"tensor {name!r} needs transformers' weight conversion, which streaming does not do; "
                        "load this checkpoint with build_and_load_factory_model (the transformers mode)",
                    )
                model_name = mapper.model_name(name)
                if model_name is not None:
                    renamed[model_name] = tensor
                    names[model_name] = name
            # a safetensors shard keeps reading slices from its file under the model's names
            yield path.name, (tensors.renamed(names) if isinstance(tensors, SafetensorsShard) else renamed)

    def get_quant_config(self) -> dict[str, Any]:
        """How the checkpoint is quantised (AutoDeploy's factory method): for a GGUF file
        ``{"quant_method": "gguf", "tensor_types": {model tensor name: GGUF type, e.g. "Q4_1"}}``
        (read from its header); ``{}`` for other checkpoints, or when weights are skipped."""
        if self.skip_loading_weights:
            return {}
        layout = self.checkpoint_layout()
        if layout.format is not CheckpointFormat.GGUF:
            return {}
        from .gguf_shard import GGUFShard, NotPerTensor
        from .key_mapping import KeyMapper

        if self._gguf_shard is None:
            skeleton = self.meta_skeleton()
            try:
                self._gguf_shard = GGUFShard(layout.files[0], skeleton, KeyMapper(skeleton).model_name)
            except NotPerTensor:
                return {}  # read by transformers, de-quantised: nothing keeps the file's blocks
            except Exception as exc:  # noqa: BLE001 - gguf raises many kinds for broken files
                raise checkpoint_error(
                    layout.files[0], f"cannot be read as a GGUF checkpoint ({describe_exception(exc)})"
                ) from exc
        return {"quant_method": "gguf", "tensor_types": self._gguf_shard.tensor_types()}

    def init_buffers(self, device: str) -> dict[str, torch.Tensor]:
        """The model's non-persistent buffers (rotary ``inv_freq``...) computed on `device`."""
        from .buffers import compute_non_persistent_buffers

        return compute_non_persistent_buffers(
            self.meta_skeleton(),
            device,
            rebuild_on_device=lambda target: self._build(target, initialise=False),
        )

    # ------------------------------------------------------------------ tokenizer

    def init_tokenizer(self) -> Any:
        """The folder's tokenizer (``tokenizer`` folder if given), local files only; None when there is none."""
        from .tokenizer import has_tokenizer_files, load_tokenizer

        gguf = self.gguf_path() if self.tokenizer is None else None
        if gguf is not None:
            return load_tokenizer(gguf.parent, trust_remote_code=False, gguf_file=gguf)
        if self.tokenizer is not None:
            folder = Path(self.tokenizer).expanduser()
            if not folder.is_dir() or not has_tokenizer_files(folder):
                raise checkpoint_error(folder, "tokenizer names this path, but it is not a folder with tokenizer files")
        else:
            folder = self.model_folder()
            if not has_tokenizer_files(folder):
                return None
        return load_tokenizer(folder, trust_remote_code=self.trust_remote_code)

    def end_of_sequence_ids(self) -> list[int]:
        """The EOS ids of the checkpoint's generation config (generation_config.json), else of its config."""
        from transformers import GenerationConfig

        folder = self.model_folder()
        ids: list[int] = []
        if (folder / "generation_config.json").is_file():
            try:
                ids = _token_ids(GenerationConfig.from_pretrained(folder).eos_token_id)
            except (OSError, ValueError):  # unreadable: the config's ids below still apply
                ids = []
        return ids or _token_ids(getattr(self.hf_config(), "eos_token_id", None))

    def describe(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, dtype={self.dtype!s})"


class AutoModelForCausalLMFactory(HFModelFactory):
    """Causal language models (``AutoModelForCausalLM``): Llama, Qwen2, Mistral, GPT-2, ..."""

    auto_class_name: ClassVar[str] = "AutoModelForCausalLM"


class AutoModelForImageTextToTextFactory(HFModelFactory):
    """Vision-language models that generate text (``AutoModelForImageTextToText``): Llava, Qwen2-VL, ..."""

    auto_class_name: ClassVar[str] = "AutoModelForImageTextToText"


def _token_ids(value: Any) -> list[int]:
    """One id, a list of ids, or nothing, as a list."""
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, int)]
    return []


def _choose_dtype(dtype: Any, torch_dtype: Any) -> Any:
    """One dtype spec from AutoDeploy's two names for it; giving two different ones is an error."""
    spec = normalize_dtype_spec(dtype, "dtype")
    if torch_dtype is None:
        return spec
    legacy = normalize_dtype_spec(torch_dtype, "torch_dtype")
    if spec != "auto" and legacy != spec:
        raise ConfigError(f"dtype={dtype!r} and torch_dtype={torch_dtype!r} disagree; give one", path="dtype")
    return legacy if spec == "auto" else spec
