"""Finding, validating and reading the weight files of a Hugging Face checkpoint folder.

A folder holds its weights in one of these layouts, looked for in this order:

- ``model.safetensors.index.json`` + the shards it names (sharded safetensors);
- ``model.safetensors`` (one safetensors file);
- ``pytorch_model.bin.index.json`` + shards, or ``pytorch_model.bin`` (torch pickles, read only
  through ``torch.load(weights_only=True)``: a checkpoint never runs code);
- a GGUF file (chosen by the factory), read one tensor at a time from its memory map and
  de-quantised when read (`gguf_shard`), or by transformers' GGUF support for architectures
  whose tensors cannot be read one at a time.

Validation reads headers only (safetensors headers, memory-mapped ``.bin`` files), so a truncated
download or a broken index is reported before any model is built, naming the file at fault.
Everything here only reads: files are opened read-only or memory-mapped copy-on-write.
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .errors import checkpoint_error, describe_exception, list_names
from .pickle_globals import describe_foreign

if TYPE_CHECKING:
    import torch
    from torch import nn

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
BIN_INDEX = "pytorch_model.bin.index.json"
BIN_SINGLE = "pytorch_model.bin"
GGUF_SUFFIX = ".gguf"

# safetensors header dtype codes -> torch dtype attribute names
_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
    "F4": "float4_e2m1fn_x2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
    "C64": "complex64",
}


class CheckpointFormat(str, Enum):
    """How the weights of a checkpoint are stored."""

    SAFETENSORS = "safetensors"
    BIN = "bin"
    GGUF = "gguf"


@dataclass(frozen=True)
class TensorSpec:
    """What a checkpoint header says about one tensor, and which file holds it."""

    shape: tuple[int, ...]
    dtype: str  # torch dtype name, e.g. "bfloat16"
    file: Path


@dataclass(frozen=True)
class CheckpointLayout:
    """The weight files of a checkpoint folder, in load order."""

    folder: Path
    format: CheckpointFormat
    files: tuple[Path, ...]
    index_file: Optional[Path] = None
    # tensor name -> shard file name, as the index lists it (empty without an index)
    weight_map: Mapping[str, str] = field(default_factory=dict)


def find_checkpoint(folder: Path, gguf_file: Optional[Path] = None) -> CheckpointLayout:
    """The weight layout of `folder` (or the given GGUF file); a `CheckpointError` naming what is wrong."""
    if gguf_file is not None:
        if not gguf_file.is_file():
            raise checkpoint_error(gguf_file, "gguf_file names this file, but it does not exist")
        return CheckpointLayout(folder, CheckpointFormat.GGUF, (gguf_file,))
    if (folder / SAFETENSORS_INDEX).is_file():
        return _sharded_layout(folder, folder / SAFETENSORS_INDEX, CheckpointFormat.SAFETENSORS)
    if (folder / SAFETENSORS_SINGLE).is_file():
        return CheckpointLayout(folder, CheckpointFormat.SAFETENSORS, (folder / SAFETENSORS_SINGLE,))
    if (folder / BIN_INDEX).is_file():
        return _sharded_layout(folder, folder / BIN_INDEX, CheckpointFormat.BIN)
    if (folder / BIN_SINGLE).is_file():
        return CheckpointLayout(folder, CheckpointFormat.BIN, (folder / BIN_SINGLE,))
    gguf_files = sorted(path.name for path in folder.glob(f"*{GGUF_SUFFIX}") if path.is_file())
    others = sorted(p.name for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".pt", ".pth"})
    hint = ""
    if gguf_files:
        hint = f"; it holds GGUF files ({list_names(gguf_files)}): choose one with gguf_file"
    elif others:
        hint = f"; found only {list_names(others)}, which is not a layout transformers saves"
    raise checkpoint_error(
        folder,
        f"no weights found: expected {SAFETENSORS_SINGLE}, {SAFETENSORS_INDEX}, {BIN_SINGLE} or {BIN_INDEX}{hint} "
        "(set skip_loading_weights to build without weights)",
    )


def find_gguf_file(folder: Path) -> Optional[Path]:
    """The only ``.gguf`` file of `folder`; None when it has none; an error naming them when it has several."""
    found = sorted(path for path in folder.glob(f"*{GGUF_SUFFIX}") if path.is_file())
    if len(found) > 1:
        raise checkpoint_error(
            folder, f"holds several GGUF files ({list_names(p.name for p in found)}); choose one with gguf_file"
        )
    return found[0] if found else None


def _inside(folder: Path, name: str, named_by: Path) -> Path:
    """`folder / name`, refusing names that lead outside the folder (``../``, absolute paths)."""
    path = folder / name
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise checkpoint_error(named_by, f"names {name!r}, which is outside the checkpoint folder {folder}")
    return path


def _sharded_layout(folder: Path, index_file: Path, fmt: CheckpointFormat) -> CheckpointLayout:
    weight_map = read_index(index_file)
    shard_names = sorted(set(weight_map.values()))
    shards = []
    for name in shard_names:
        shard = _inside(folder, name, index_file)
        if not shard.is_file():
            raise checkpoint_error(shard, f"listed in {index_file.name} but missing (incomplete download?)")
        shards.append(shard)
    return CheckpointLayout(folder, fmt, tuple(shards), index_file=index_file, weight_map=weight_map)


def read_index(index_file: Path) -> dict[str, str]:
    """The ``weight_map`` of a shard index: tensor name -> shard file name."""
    try:
        data = json.loads(index_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise checkpoint_error(
            index_file, f"not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno}); truncated?"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise checkpoint_error(index_file, f"cannot be read ({describe_exception(exc)})") from exc
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise checkpoint_error(index_file, 'has no "weight_map" object mapping tensor names to shard files')
    bad = [name for name, shard in weight_map.items() if not isinstance(shard, str)]
    if bad:
        raise checkpoint_error(index_file, f'"weight_map" gives no shard file name for {list_names(bad)}')
    return dict(weight_map)


def read_tensor_specs(layout: CheckpointLayout) -> dict[str, TensorSpec]:
    """Name, shape and dtype of every tensor of a safetensors or .bin checkpoint, from headers only.

    Opens every file (so a truncated or corrupt one is reported now, naming it) and checks that
    each shard holds the tensors its index says it does. GGUF files name tensors in llama.cpp's
    scheme, which only a load maps to the model: no specs for them (their header was already
    parsed when the config was read from it, which reports a broken file by name).
    """
    specs: dict[str, TensorSpec] = {}
    if layout.format is CheckpointFormat.GGUF:
        return specs
    for path in layout.files:
        file_specs = _safetensors_specs(path) if layout.format is CheckpointFormat.SAFETENSORS else _bin_specs(path)
        if layout.index_file is not None:
            _check_shard_against_index(layout, path, file_specs)
        for name, spec in file_specs.items():
            if name in specs:
                raise checkpoint_error(path, f"tensor {name!r} is also in {specs[name].file.name}; which one to load?")
            specs[name] = spec
    return specs


def _check_shard_against_index(layout: CheckpointLayout, path: Path, file_specs: Mapping[str, TensorSpec]) -> None:
    expected = {name for name, shard in layout.weight_map.items() if shard == path.name}
    absent = expected - file_specs.keys()
    if absent:
        raise checkpoint_error(
            path,
            f"{layout.index_file.name if layout.index_file else 'the index'} lists {len(absent)} tensors in this "
            f"file that it does not hold: {list_names(absent)} (incomplete download or wrong index?)",
        )


def _safetensors_specs(path: Path) -> dict[str, TensorSpec]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            specs = {}
            for name in handle.keys():
                tensor_slice = handle.get_slice(name)
                code = tensor_slice.get_dtype()
                specs[name] = TensorSpec(tuple(tensor_slice.get_shape()), _SAFETENSORS_DTYPES.get(code, code), path)
            return specs
    except OSError as exc:
        raise checkpoint_error(path, f"cannot be read ({describe_exception(exc)})") from exc
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError for every bad file
        raise checkpoint_error(path, f"not a valid safetensors file, truncated or corrupt ({exc})") from exc


def _bin_specs(path: Path) -> dict[str, TensorSpec]:
    state_dict = load_bin(path)
    return {
        name: TensorSpec(tuple(t.shape), str(t.dtype).removeprefix("torch."), path) for name, t in state_dict.items()
    }


def load_bin(path: Path) -> dict[str, torch.Tensor]:
    """A ``.bin`` state dict, memory-mapped and read with ``weights_only=True`` (no code runs)."""
    import torch

    try:
        with warnings.catch_warnings():
            # torch notes pickle protocols other than 2 as a UserWarning; a file that fails says why below
            warnings.simplefilter("ignore", UserWarning)
            try:
                state_dict = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                # files from torch.save(_use_new_zipfile_serialization=False) cannot be memory-mapped
                state_dict = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # not torch's message: it goes on to suggest weights_only=False, which would run the file's code
        raise checkpoint_error(
            path,
            "refused: it holds Python objects other than tensors, and .bin checkpoints are only read with "
            f"torch.load(weights_only=True), which runs no code from the file{describe_foreign(path)}; "
            "convert it to safetensors if it comes from a source you trust",
        ) from None
    except OSError as exc:
        raise checkpoint_error(path, f"cannot be read ({describe_exception(exc)})") from exc
    except Exception as exc:  # noqa: BLE001 - torch reports a broken zip/pickle with RuntimeError and friends
        raise checkpoint_error(
            path, f"not a valid torch checkpoint, truncated or corrupt ({describe_exception(exc)})"
        ) from exc
    if not isinstance(state_dict, dict) or not all(
        isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in state_dict.items()
    ):
        raise checkpoint_error(path, "does not hold a flat state dict of tensor names to tensors")
    return state_dict


def first_floating_dtype(specs: Mapping[str, TensorSpec]) -> Optional[str]:
    """The dtype of the first floating-point tensor, which ``dtype="auto"`` falls back to."""
    for spec in specs.values():
        if spec.dtype.startswith(("float", "bfloat")):
            return spec.dtype
    return None


def iter_raw_shards(
    layout: CheckpointLayout,
    gguf_model: Optional[nn.Module] = None,
    rename: Optional[Callable[[str], Optional[str]]] = None,
) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Yield each weight file with its tensors under the checkpoint's own names, one file at a time.

    safetensors tensors are lazy memory maps (nothing is read until a tensor is touched), ``.bin``
    files are memory-mapped too. A GGUF file is one "shard" named for `gguf_model` (a skeleton of
    the model, e.g. on meta), already renamed by `rename` (None drops a name): a lazy mapping that
    de-quantises each tensor when it is read (see `gguf_shard`), or transformers' eager reading
    for architectures that cannot be read one tensor at a time.
    """
    for path in layout.files:
        if layout.format is CheckpointFormat.SAFETENSORS:
            yield path, _load_safetensors(path)
        elif layout.format is CheckpointFormat.BIN:
            yield path, load_bin(path)
        else:
            yield path, open_gguf_shard(path, gguf_model, rename)


def _load_safetensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    from autodeploy.distributed import SafetensorsShard

    try:
        # a dict that can also read a tensor's slice from the file (tensor parallelism's loads)
        return SafetensorsShard(load_file(str(path), device="cpu"), path)
    except OSError as exc:
        raise checkpoint_error(path, f"cannot be read ({describe_exception(exc)})") from exc
    except Exception as exc:  # noqa: BLE001 - SafetensorError
        raise checkpoint_error(path, f"not a valid safetensors file, truncated or corrupt ({exc})") from exc


def load_gguf_tensors(path: Path, model: Optional[nn.Module]) -> dict[str, Any]:
    """The dequantised tensors of a GGUF file under the model's state-dict names."""
    if model is None:
        raise ValueError("reading a GGUF checkpoint needs the model (a meta skeleton is enough) to name its tensors")
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    try:
        parsed = load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=model)
    except Exception as exc:  # noqa: BLE001 - gguf/transformers raise many kinds for unsupported or broken files
        raise checkpoint_error(path, f"cannot be read as a GGUF checkpoint ({describe_exception(exc)})") from exc
    return dict(parsed.get("tensors", {}))


def open_gguf_shard(
    path: Path, model: Optional[nn.Module], rename: Optional[Callable[[str], Optional[str]]] = None
) -> Mapping[str, Any]:
    """The tensors of a GGUF file under the model's names: lazy (`GGUFShard`) when its architecture
    is read one tensor at a time, else all de-quantised at once by transformers."""
    if model is None:
        raise ValueError("reading a GGUF checkpoint needs the model (a meta skeleton is enough) to name its tensors")
    from .gguf_shard import GGUFShard, NotPerTensor

    try:
        return GGUFShard(path, model, rename)
    except NotPerTensor:
        pass  # transformers reads it, all at once
    except Exception as exc:  # noqa: BLE001 - gguf raises many kinds for broken files
        raise checkpoint_error(path, f"cannot be read as a GGUF checkpoint ({describe_exception(exc)})") from exc
    tensors = load_gguf_tensors(path, model)
    if rename is None:
        return tensors
    renamed = {}
    for name, tensor in tensors.items():
        model_name = rename(name)
        if model_name is not None:
            renamed[model_name] = tensor
    return renamed
