"""Reading a checkpoint's ``config.json`` with clear errors, the remote-code policy, and dtypes.

transformers reports a broken or missing ``config.json`` in many ways (OSError about the Hub,
ValueError about an unrecognised model, JSON errors without the file name). We read and check the
file ourselves first, so the user learns which file is wrong and how. Only then does
``AutoConfig`` build the config object (local files only: there is no Hub here).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from autodeploy import ConfigError, deep_merge

from .errors import checkpoint_error, describe_exception

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"

# dtype names a user may give (as torch spells them); "auto" takes the checkpoint's own dtype.
DTYPE_NAMES = {
    "float32": "float32",
    "float": "float32",
    "fp32": "float32",
    "float16": "float16",
    "half": "float16",
    "fp16": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float64": "float64",
    "double": "float64",
}

DtypeSpec = Union[str, "torch.dtype"]


def normalize_dtype_spec(value: Any, field: str = "dtype") -> DtypeSpec:
    """``"auto"``, a canonical torch dtype name (``"bfloat16"``) or a floating `torch.dtype`.

    Checked when the factory is made, without importing torch for string specs, so that a typo
    fails before any model work starts.
    """
    if value is None or value == "auto":
        return "auto"
    if isinstance(value, str):
        name = value.removeprefix("torch.").lower()
        if name in DTYPE_NAMES:
            return DTYPE_NAMES[name]
        raise ConfigError(
            f"{value!r} is not a dtype this factory can build in; use 'auto' (the checkpoint's dtype) or one of "
            f"{', '.join(sorted(set(DTYPE_NAMES.values())))}",
            path=field,
        )
    import torch

    if isinstance(value, torch.dtype) and value.is_floating_point:
        return value
    raise ConfigError(f"{value!r} is not a floating-point dtype; use 'auto' or e.g. 'bfloat16'", path=field)


def resolve_dtype(spec: DtypeSpec, config: PretrainedConfig, checkpoint_dtype: Optional[str]) -> torch.dtype:
    """The dtype to build in: the explicit one, else the config's, else the checkpoint's, else float32."""
    import torch

    if spec != "auto":
        return spec if isinstance(spec, torch.dtype) else getattr(torch, spec)
    config_dtype = getattr(config, "dtype", None)
    if isinstance(config_dtype, str) and config_dtype != "auto":
        config_dtype = getattr(torch, config_dtype.removeprefix("torch."), None)
    if isinstance(config_dtype, torch.dtype):
        return config_dtype
    if checkpoint_dtype is not None:
        return getattr(torch, checkpoint_dtype)
    return torch.float32


def read_config_dict(folder: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of `folder`; a `CheckpointError` naming the file when it is unusable."""
    path = folder / CONFIG_FILE
    if not path.exists():
        raise checkpoint_error(
            path, "missing: a Hugging Face checkpoint folder needs its config.json (save_pretrained writes it)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise checkpoint_error(path, f"cannot be read ({describe_exception(exc)})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise checkpoint_error(
            path, f"not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno}); truncated or hand-edited?"
        ) from exc
    if not isinstance(data, dict):
        raise checkpoint_error(path, f"must hold a JSON object, not a {type(data).__name__}")
    if not isinstance(data.get("model_type"), str) or not data["model_type"]:
        raise checkpoint_error(path, 'has no "model_type", so transformers cannot tell which model it describes')
    return data


def check_remote_code(
    config_dict: Mapping[str, Any], path: Path, auto_class_name: str, trust_remote_code: bool
) -> None:
    """Refuse a model that needs the folder's own Python code unless ``trust_remote_code`` is set.

    A config's ``auto_map`` points at Python files shipped with the checkpoint. That code runs only
    when the user opts in. When transformers has built-in code for the ``model_type`` (checkpoints
    that predate native support), the built-in code is used instead, as transformers does.
    """
    auto_map = config_dict.get("auto_map")
    if not isinstance(auto_map, Mapping) or trust_remote_code:
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = config_dict["model_type"]
    wanted = [name for name in ("AutoConfig", auto_class_name) if name in auto_map]
    if not wanted:
        return
    if model_type in CONFIG_MAPPING and _has_builtin_model(model_type, auto_class_name):
        logger.warning(
            "%s: auto_map names custom code (%s), which is not run because trust_remote_code is false; "
            "using transformers' built-in %r code instead",
            path,
            ", ".join(f"{name}: {auto_map[name]}" for name in wanted),
            model_type,
        )
        return
    raise checkpoint_error(
        path,
        f"model_type {model_type!r} needs the Python code shipped with the checkpoint (auto_map: "
        f"{', '.join(f'{name} -> {auto_map[name]}' for name in wanted)}); it is only run when you trust it: "
        "set trust_remote_code: true for this model factory",
    )


def _has_builtin_model(model_type: str, auto_class_name: str) -> bool:
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    auto_class = getattr(transformers, auto_class_name)
    return CONFIG_MAPPING[model_type] in auto_class._model_mapping


def load_config(
    folder: Path,
    *,
    trust_remote_code: bool,
    gguf_file: Optional[Path] = None,
) -> PretrainedConfig:
    """The transformers config of the checkpoint (from ``config.json``, or from the GGUF file's metadata)."""
    from transformers import AutoConfig

    source = gguf_file if gguf_file is not None else folder / CONFIG_FILE
    try:
        if gguf_file is not None:
            return AutoConfig.from_pretrained(str(folder), gguf_file=gguf_file.name, local_files_only=True)
        return AutoConfig.from_pretrained(str(folder), local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - transformers raises ValueError/KeyError/OSError for bad configs
        raise checkpoint_error(
            source, f"transformers cannot build a config from it ({describe_exception(exc)})"
        ) from exc


def apply_model_kwargs(config: Any, overrides: Mapping[str, Any], *, warn_unknown: bool = True) -> None:
    """Override config attributes with ``model_kwargs``; nested mappings merge instead of replacing.

    ``{"text_config": {"num_hidden_layers": 1}}`` changes one field of a sub-config and keeps the
    others; ``{"rope_scaling": {"factor": 2.0}}`` merges into the existing dict.
    """
    from transformers import PretrainedConfig

    for key, value in overrides.items():
        current = getattr(config, key, None)
        if isinstance(value, Mapping) and isinstance(current, PretrainedConfig):
            apply_model_kwargs(current, value, warn_unknown=warn_unknown)
        elif isinstance(value, Mapping) and isinstance(current, Mapping):
            setattr(config, key, deep_merge(current, value))
        else:
            if warn_unknown and not hasattr(config, key):
                logger.warning(
                    "model_kwargs sets %r, which %s does not define; check the spelling",
                    key,
                    type(config).__name__,
                )
            setattr(config, key, value)
