"""A checkpoint that does not fit the model is a `CheckpointError` (chained under the
`TransformError` the pipeline raises) that names each offending tensor: its name, the shapes,
the shard file. Checkpoints are real ``save_pretrained`` folders, edited into wrong ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from autodeploy_load_weights.problems import SHOWN_PER_KIND
from autodeploy_load_weights.transforms import LoadWeightsToDevice
from load_weights_testkit import Container, SafetensorsLlamaFactory, save_tiny_llama
from safetensors.torch import load_file, save_file

from autodeploy import CheckpointError, ConfigError, TransformError

SHARD = "model-00001-of-00001.safetensors"


def single_file_checkpoint(folder: Path, **config) -> Path:
    save_tiny_llama(folder, **config)
    (folder / "model.safetensors").rename(folder / SHARD)  # a name to find in the messages
    return folder


def edit_checkpoint(folder: Path, edit) -> None:
    """Rewrite the checkpoint's one shard with `edit` applied to its tensors (our own test file)."""
    tensors = {name: tensor.clone() for name, tensor in load_file(folder / SHARD).items()}
    edit(tensors)
    save_file(tensors, folder / SHARD, metadata={"format": "pt"})


def load_error(folder: Path, cm, shared_config) -> CheckpointError:
    factory = SafetensorsLlamaFactory(model=folder)
    transform = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False)
    with pytest.raises(TransformError) as raised:
        transform(Container(factory.build_model("meta")), cm, factory, shared_config)
    assert raised.value.stage == "weight_load"
    cause = raised.value.__cause__
    assert isinstance(cause, CheckpointError)
    assert str(cause) in str(raised.value)
    return cause


def test_shape_mismatch_names_tensor_shapes_and_shard(tmp_path, cm, shared_config):
    folder = single_file_checkpoint(tmp_path / "ckpt")
    edit_checkpoint(folder, lambda t: t.update({"model.norm.weight": torch.ones(16)}))

    message = str(load_error(folder, cm, shared_config))

    assert "shape mismatch (1)" in message
    assert f"model.norm.weight: model expects shape [32], checkpoint has [16] (in {SHARD})" in message


def test_missing_tensor_is_listed_with_expected_shape(tmp_path, cm, shared_config):
    folder = single_file_checkpoint(tmp_path / "ckpt")
    edit_checkpoint(folder, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))

    message = str(load_error(folder, cm, shared_config))

    assert "missing from the checkpoint (1)" in message
    assert "model.layers.1.mlp.up_proj.weight (model expects shape [64, 32])" in message


def test_unexpected_tensor_is_listed_with_its_shard(tmp_path, cm, shared_config):
    folder = single_file_checkpoint(tmp_path / "ckpt")
    edit_checkpoint(folder, lambda t: t.update({"model.layers.0.extra.weight": torch.zeros(3, 4)}))

    message = str(load_error(folder, cm, shared_config))

    assert "unexpected in the checkpoint (not in the model) (1)" in message
    assert f"model.layers.0.extra.weight (shape [3, 4], in {SHARD})" in message
    assert "missing" not in message


def test_dtype_that_cannot_be_cast(tmp_path, cm, shared_config):
    folder = single_file_checkpoint(tmp_path / "ckpt")
    edit_checkpoint(folder, lambda t: t.update({"model.norm.weight": torch.ones(32, dtype=torch.int32)}))

    message = str(load_error(folder, cm, shared_config))

    assert "model.norm.weight: model expects torch.float32, checkpoint has torch.int32" in message


def test_many_offenders_are_cut_after_the_first_few(tmp_path, cm, shared_config):
    """A checkpoint of another config: a family of mismatches, the first few shown, then a count."""
    folder = single_file_checkpoint(tmp_path / "ckpt", intermediate_size=48)
    factory_folder = single_file_checkpoint(tmp_path / "model")  # the model expects intermediate 64
    (factory_folder / SHARD).unlink()
    (factory_folder / SHARD).symlink_to(folder / SHARD)

    message = str(load_error(factory_folder, cm, shared_config))

    # 3 MLP matrices per layer, 2 layers
    assert "shape mismatch (6)" in message
    assert "model expects shape [64, 32], checkpoint has [48, 32]" in message
    assert f"... and {6 - SHOWN_PER_KIND} more" in message


def test_several_kinds_in_one_message(tmp_path, cm, shared_config):
    folder = single_file_checkpoint(tmp_path / "ckpt")

    def rename_a_layer(tensors):
        tensors["model.layers.0.attn.q.weight"] = tensors.pop("model.layers.0.self_attn.q_proj.weight")

    edit_checkpoint(folder, rename_a_layer)

    message = str(load_error(folder, cm, shared_config))

    assert "model.layers.0.self_attn.q_proj.weight (model expects shape [32, 32])" in message
    assert f"model.layers.0.attn.q.weight (shape [32, 32], in {SHARD})" in message
    assert "(2 problems)" in message


def test_untied_model_missing_lm_head_is_an_error(tmp_path, cm, shared_config):
    """Without tie_word_embeddings a checkpoint lacking lm_head.weight is incomplete, not tied."""
    folder = single_file_checkpoint(tmp_path / "ckpt")
    edit_checkpoint(folder, lambda t: t.pop("lm_head.weight"))

    message = str(load_error(folder, cm, shared_config))

    assert "lm_head.weight (model expects shape [96, 32])" in message


def test_empty_checkpoint_says_no_shard(tmp_path, cm, shared_config):
    folder = single_file_checkpoint(tmp_path / "ckpt")
    (folder / SHARD).unlink()

    message = str(load_error(folder, cm, shared_config))

    assert "it yielded no shard" in message
    assert "missing from the checkpoint (21)" in message


def test_checkpoint_files_are_not_written(tmp_path, cm, shared_config):
    """User checkpoints are read only: a load (and in-place use of the weights) leaves them as they were."""
    folder = single_file_checkpoint(tmp_path / "ckpt")
    before = (folder / SHARD).read_bytes()
    factory = SafetensorsLlamaFactory(model=folder)
    transform = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False)
    mod = transform(Container(factory.build_model("meta")), cm, factory, shared_config)

    with torch.no_grad():
        mod.factory_model.model.norm.weight.mul_(3.0)  # zero-copy weights are copy-on-write maps

    assert (folder / SHARD).read_bytes() == before


def test_buffers_the_factory_does_not_compute_are_named(tmp_path, cm, shared_config):
    """A factory whose init_buffers gives nothing leaves the rotary buffers on meta: named, not a
    "Cannot copy out of meta tensor" at the first forward."""

    class NoBuffersFactory(SafetensorsLlamaFactory):
        def init_buffers(self, device):
            return {}

    folder = single_file_checkpoint(tmp_path / "ckpt")
    factory = NoBuffersFactory(model=folder)
    transform = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False)

    with pytest.raises(TransformError) as raised:
        transform(Container(factory.build_model("meta")), cm, factory, shared_config)

    message = str(raised.value.__cause__)
    assert "still on the meta device: model.rotary_emb.inv_freq" in message
    assert "init_buffers()" in message


def test_no_factory_is_a_clear_error(cm, shared_config):
    transform = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False)

    with pytest.raises(TransformError, match="load_weights needs a model factory") as raised:
        transform(Container(torch.nn.Linear(2, 2)), cm, None, shared_config)
    assert isinstance(raised.value.__cause__, ConfigError)  # as build_model says it
