"""iter_checkpoint_shards / checkpoint_files: one weight file at a time, under the model's own names."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from autodeploy_hf import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory
from hf_testkit import reference_model
from transformers import AutoModelForImageTextToText

from autodeploy import CheckpointError


@pytest.mark.parametrize("folder_fixture", ["llama_sharded_dir", "llama_bin_sharded_dir", "llama_dir"])
def test_one_shard_per_file_covering_the_model(folder_fixture: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(folder_fixture)
    factory = AutoModelForCausalLMFactory(model=str(folder))
    files = factory.checkpoint_files()
    assert files == sorted(files) and all(path.parent == folder for path in files)
    shards = factory.iter_checkpoint_shards()
    assert inspect.isgenerator(shards)
    seen: dict[str, torch.Tensor] = {}
    names = []
    for shard_name, tensors in shards:
        names.append(shard_name)
        assert not seen.keys() & tensors.keys()
        seen.update(tensors)
    assert names == [path.name for path in files]
    reference = reference_model(folder).state_dict()
    assert seen.keys() == reference.keys()
    for name, tensor in seen.items():
        assert torch.equal(tensor, reference[name]), name


def test_shards_stream_lazily_and_a_bad_late_shard_names_itself(
    llama_sharded_dir: Path, checkpoint_copy: Callable[[Path], Path]
) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    factory = AutoModelForCausalLMFactory(model=str(folder))
    factory.build_model("meta")  # validated while intact
    last = factory.checkpoint_files()[-1]
    last.write_bytes(last.read_bytes()[:-4])  # damaged after validation (e.g. a disk error)
    shards = factory.iter_checkpoint_shards()
    first_name, first = next(shards)  # earlier files still stream
    assert first_name == factory.checkpoint_files()[0].name and first
    with pytest.raises(CheckpointError, match=rf"^{last}: .*truncated or corrupt"):
        for _ in shards:
            pass


def test_tied_output_layer_is_not_in_the_shards(gpt2_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(gpt2_dir))
    names = {name for _, tensors in factory.iter_checkpoint_shards() for name in tensors}
    assert "transformer.wte.weight" in names and "lm_head.weight" not in names


def test_legacy_checkpoint_names_are_renamed_to_model_names(llava_dir: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(llava_dir / "model.safetensors"), "pt") as handle:
        stored = set(handle.keys())
    assert any(name.startswith("language_model.model.") for name in stored)  # the legacy layout
    factory = AutoModelForImageTextToTextFactory(model=str(llava_dir))
    names = {name for _, tensors in factory.iter_checkpoint_shards() for name in tensors}
    reference = reference_model(llava_dir, auto_class=AutoModelForImageTextToText)
    assert names == set(reference.state_dict().keys())
    assert "model.language_model.layers.0.mlp.up_proj.weight" in names


def test_tensors_dropped_by_a_config_override_are_left_out(llama_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), model_kwargs={"num_hidden_layers": 1})
    names = {name for _, tensors in factory.iter_checkpoint_shards() for name in tensors}
    assert "model.layers.0.mlp.up_proj.weight" in names
    assert not any(name.startswith("model.layers.1.") for name in names)


def test_shards_keep_the_checkpoint_dtype(llama_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(llama_dir), dtype="bfloat16")
    _, tensors = next(factory.iter_checkpoint_shards())
    assert {tensor.dtype for tensor in tensors.values()} == {torch.float32}  # loaders cast to the model's dtype
