"""Catalogue: checkpoint folders from anywhere, damaged in the ways downloads and hand edits break.

Each case damages a copy of a tiny real checkpoint (written by ``save_pretrained``), then runs a
pipeline on it in the `graph` and `transformers` modes with the installed first-party plugins. The
run must fail with a `TransformError` naming the transform, its stage and the checkpoint's problem
(a `CheckpointError` naming the file), and the folder must be byte-for-byte what it was before.

The damage functions import torch and safetensors when called, never at import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from reliability_bad_input import BadInput

SINGLE = "single"  # model.safetensors
SHARDED = "sharded"  # model.safetensors.index.json + shards
INDEX = "model.safetensors.index.json"
WEIGHTS = "model.safetensors"
BUILD = ("build_model", "factory")  # where the graph mode fails for a checkpoint problem
BUILD_AND_LOAD = ("build_and_load_factory_model", "factory")  # and the transformers mode


@dataclass(frozen=True, kw_only=True)
class CheckpointCase(BadInput):
    layout: str = SINGLE
    damage: Callable[[Path, Path], None]  # (checkpoint folder, a scratch folder outside it)
    file: str  # the file the error names, relative to the folder ("" for the folder itself)
    problem: str  # a fragment of the error
    # the transform and stage each mode fails in
    fails_in: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {"graph": BUILD, "transformers": BUILD_AND_LOAD}
    )
    # mode -> the gap, for modes where someone else's code does not catch this yet
    gaps: dict[str, str] = field(default_factory=dict)
    marker: Optional[str] = None  # a file in the scratch folder that running the checkpoint's code would create
    # fragments the error must not hold (torch's advice to load with weights_only=False), and
    # whether the run must pass no warning on (torch's pickle-protocol UserWarning)
    absent: tuple[str, ...] = ()
    quiet: bool = False


def _shards(folder: Path) -> list[Path]:
    return sorted(folder.glob("model-*.safetensors"))


def _rewrite_tensors(folder: Path, change: Callable[[dict], None]) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / WEIGHTS
    tensors = dict(load_file(path))
    change(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def truncate(folder: Path, scratch: Path) -> None:
    path = folder / WEIGHTS
    path.write_bytes(path.read_bytes()[:-100])


def corrupt_header(folder: Path, scratch: Path) -> None:
    path = folder / WEIGHTS
    data = bytearray(path.read_bytes())
    data[8:24] = b"\x00garbage-header!"
    path.write_bytes(bytes(data))


def empty_weights(folder: Path, scratch: Path) -> None:
    (folder / WEIGHTS).write_bytes(b"")


def delete_a_shard(folder: Path, scratch: Path) -> None:
    _shards(folder)[1].unlink()


def truncate_a_shard(folder: Path, scratch: Path) -> None:
    shard = _shards(folder)[2]
    shard.write_bytes(shard.read_bytes()[:-16])


def index_points_outside(folder: Path, scratch: Path) -> None:
    index = json.loads((folder / INDEX).read_text())
    index["weight_map"]["model.norm.weight"] = "../outside.safetensors"
    (folder / INDEX).write_text(json.dumps(index))


def truncate_index(folder: Path, scratch: Path) -> None:
    text = (folder / INDEX).read_text()
    (folder / INDEX).write_text(text[: len(text) // 2])


def wrong_shape(folder: Path, scratch: Path) -> None:
    import torch

    _rewrite_tensors(folder, lambda tensors: tensors.update({"model.norm.weight": torch.ones(7)}))


def wrong_dtype(folder: Path, scratch: Path) -> None:
    import torch

    def to_int(tensors: dict) -> None:
        tensors["model.norm.weight"] = tensors["model.norm.weight"].to(torch.int32)

    _rewrite_tensors(folder, to_int)


def drop_a_tensor(folder: Path, scratch: Path) -> None:
    _rewrite_tensors(folder, lambda tensors: tensors.pop("model.norm.weight"))


class _RunsCode:
    """Pickled, it makes ``torch.load`` without ``weights_only`` run a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickle_that_runs_code(folder: Path, scratch: Path, **save_kwargs) -> None:
    import torch
    from safetensors.torch import load_file

    tensors = dict(load_file(folder / WEIGHTS))
    (folder / WEIGHTS).unlink()
    tensors["lm_head.extra"] = _RunsCode(scratch / "code-ran")
    torch.save(tensors, folder / "pytorch_model.bin", **save_kwargs)


def pickle_protocol_4_that_runs_code(folder: Path, scratch: Path) -> None:
    """As above, pickled with protocol 4, which torch.load notes with a UserWarning."""
    pickle_that_runs_code(folder, scratch, pickle_protocol=4)


def needs_remote_code(folder: Path, scratch: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "reliability_custom"
    config["auto_map"] = {"AutoConfig": "custom.Config", "AutoModelForCausalLM": "custom.Model"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(f"import os\nos.system('touch {scratch / 'code-ran'}')\n")


def truncate_config(folder: Path, scratch: Path) -> None:
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text[: len(text) // 2])


def delete_config(folder: Path, scratch: Path) -> None:
    (folder / "config.json").unlink()


def delete_weights(folder: Path, scratch: Path) -> None:
    (folder / WEIGHTS).unlink()


CASES: tuple[CheckpointCase, ...] = (
    CheckpointCase(
        id="truncated-safetensors",
        what="a safetensors file cut short (an interrupted download)",
        damage=truncate,
        file=WEIGHTS,
        problem="not a valid safetensors file, truncated or corrupt",
    ),
    CheckpointCase(
        id="corrupt-safetensors-header",
        what="a safetensors file whose header is garbage",
        damage=corrupt_header,
        file=WEIGHTS,
        problem="not a valid safetensors file, truncated or corrupt",
    ),
    CheckpointCase(
        id="empty-safetensors",
        what="a safetensors file of zero bytes",
        damage=empty_weights,
        file=WEIGHTS,
        problem="not a valid safetensors file, truncated or corrupt",
    ),
    CheckpointCase(
        id="missing-shard",
        what="a shard named in the index that is not there",
        layout=SHARDED,
        damage=delete_a_shard,
        file="model-00002-of-00004.safetensors",
        problem="listed in model.safetensors.index.json but missing",
    ),
    CheckpointCase(
        id="truncated-shard",
        what="one shard of a sharded checkpoint cut short",
        layout=SHARDED,
        damage=truncate_a_shard,
        file="model-00003-of-00004.safetensors",
        problem="truncated or corrupt",
    ),
    CheckpointCase(
        id="index-points-outside",
        what="a shard index naming a file outside the folder",
        layout=SHARDED,
        damage=index_points_outside,
        file=INDEX,
        problem="names '../outside.safetensors', which is outside the checkpoint folder",
    ),
    CheckpointCase(
        id="index-not-json",
        what="a shard index cut short",
        layout=SHARDED,
        damage=truncate_index,
        file=INDEX,
        problem="not valid JSON",
    ),
    CheckpointCase(
        id="wrong-shape",
        what="a tensor whose shape does not fit the config",
        damage=wrong_shape,
        file="",
        problem="model.norm.weight in model.safetensors: checkpoint [7] vs model [16]",
    ),
    CheckpointCase(
        id="wrong-dtype",
        what="an integer tensor where the model has a floating-point weight",
        damage=wrong_dtype,
        file="",
        problem="model.norm.weight in model.safetensors: checkpoint int32 vs model float32",
    ),
    CheckpointCase(
        id="missing-tensor",
        what="a weight the model needs missing from the checkpoint",
        damage=drop_a_tensor,
        file="",
        problem="model.norm.weight",
    ),
    CheckpointCase(
        id="pickle-runs-code",
        what="a pytorch_model.bin whose pickle would run a shell command",
        damage=pickle_that_runs_code,
        file="pytorch_model.bin",
        problem="refused: it holds Python objects other than tensors, and .bin checkpoints are only read with "
        "torch.load(weights_only=True), which runs no code from the file (it names posix.system)",
        marker="code-ran",
        absent=("weights_only=False", "set to `False`", "Re-running"),
    ),
    CheckpointCase(
        id="pickle-protocol-4-runs-code",
        what="the same, pickled with protocol 4 (torch's UserWarning and its advice to load unsafely got through)",
        damage=pickle_protocol_4_that_runs_code,
        file="pytorch_model.bin",
        problem="refused: it holds Python objects other than tensors, and .bin checkpoints are only read with "
        "torch.load(weights_only=True), which runs no code from the file (it names posix.system)",
        marker="code-ran",
        absent=("weights_only=False", "set to `False`", "Re-running"),
        quiet=True,
    ),
    CheckpointCase(
        id="remote-code-untrusted",
        what="a config asking for the checkpoint's own Python code, without trust_remote_code",
        damage=needs_remote_code,
        file="config.json",
        problem="model_type 'reliability_custom' needs the Python code shipped with the checkpoint",
        marker="code-ran",
    ),
    CheckpointCase(
        id="config-json-truncated",
        what="a config.json cut short",
        damage=truncate_config,
        file="config.json",
        problem="not valid JSON",
    ),
    CheckpointCase(
        id="config-json-missing",
        what="a folder without config.json",
        damage=delete_config,
        file="config.json",
        problem="missing: a Hugging Face checkpoint folder needs its config.json",
    ),
    CheckpointCase(
        id="no-weights",
        what="a folder with a config but no weight files",
        damage=delete_weights,
        file="",
        problem="no weights found",
    ),
)

CLI_CASE_ID = "cli-truncated-safetensors"
CLI_CASE = CheckpointCase(
    id=CLI_CASE_ID,
    what="`autodeploy run --model` of a folder whose safetensors file is cut short",
    damage=truncate,
    file=WEIGHTS,
    problem="not a valid safetensors file, truncated or corrupt",
)
ALL_CASES: tuple[CheckpointCase, ...] = (*CASES, CLI_CASE)
