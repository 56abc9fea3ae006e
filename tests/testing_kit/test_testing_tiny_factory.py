"""The testing kit's tiny Llama factory behaves like a real model factory."""

import pytest
import torch
from safetensors.torch import load_file

from autodeploy import CheckpointError
from autodeploy.testing import TinyLlamaFactory, write_tiny_checkpoint
from autodeploy.testing.tiny_factory import WEIGHTS_FILE
from autodeploy.testing.tiny_llama import ROTARY_BUFFER, TinyLlamaConfig, seeded_tiny_llama


@pytest.fixture
def checkpoint(tmp_path):
    return write_tiny_checkpoint(tmp_path / "ckpt", seed=3)


def test_checkpoint_holds_every_persistent_tensor_of_the_seeded_model(checkpoint):
    saved = load_file(str(checkpoint / WEIGHTS_FILE))
    reference = seeded_tiny_llama(seed=3).state_dict()
    assert set(saved) == set(reference)
    assert ROTARY_BUFFER not in saved  # non-persistent, as in Hugging Face checkpoints
    for name, tensor in reference.items():
        assert torch.equal(saved[name], tensor), name


def test_meta_build_allocates_nothing_and_load_gives_the_checkpoint_model(checkpoint):
    factory = TinyLlamaFactory(model=str(checkpoint), seed=3)
    model = factory.build_model("meta")
    assert all(p.is_meta for p in model.parameters())
    assert model.get_buffer(ROTARY_BUFFER).is_meta

    factory.load_or_random_init(model, "cpu")
    input_ids = factory.get_example_inputs(batch_size=2, seq_len=6)["input_ids"]
    expected = seeded_tiny_llama(seed=3)(input_ids)
    assert not any(p.is_meta for p in model.parameters())
    assert torch.equal(model(input_ids), expected)
    assert model(input_ids).shape == (2, 6, TinyLlamaConfig().vocab_size)


def test_build_and_load_matches_a_streamed_load(checkpoint):
    factory = TinyLlamaFactory(model=str(checkpoint))
    loaded = factory.build_and_load_model("cpu")

    streamed = factory.build_model("meta")
    state = {}
    for shard_name, tensors in factory.iter_checkpoint_shards():
        assert shard_name == WEIGHTS_FILE
        state.update(tensors)
    streamed.load_state_dict(state, assign=True)
    for name, buffer in factory.init_buffers("cpu").items():
        owner, _, attr = name.rpartition(".")
        streamed.get_submodule(owner).register_buffer(attr, buffer, persistent=False)

    input_ids = factory.get_example_inputs()["input_ids"]
    assert torch.equal(streamed(input_ids), loaded(input_ids))
    assert factory.checkpoint_files() == [checkpoint / WEIGHTS_FILE]


def test_model_kwargs_override_the_checkpoint_config(checkpoint):
    factory = TinyLlamaFactory(model=str(checkpoint), model_kwargs={"num_hidden_layers": 1}, skip_loading_weights=True)
    model = factory.build_and_load_model("cpu")
    assert len(model.model.layers) == 1


def test_an_option_the_factory_does_not_take_is_refused_not_ignored(checkpoint):
    from autodeploy import ConfigError

    with pytest.raises(
        ConfigError,
        match=r"model_factory: model factory TinyLlamaFactory does not take the option\(s\) dtype, skip_loading_weight",
    ):
        TinyLlamaFactory(model=str(checkpoint), dtype="bfloat16", skip_loading_weight=True)


def test_random_init_is_seeded(tmp_path):
    first = TinyLlamaFactory(skip_loading_weights=True, seed=7).build_and_load_model("cpu")
    second = TinyLlamaFactory(skip_loading_weights=True, seed=7).build_and_load_model("cpu")
    other = TinyLlamaFactory(skip_loading_weights=True, seed=8).build_and_load_model("cpu")
    input_ids = torch.arange(10).reshape(2, 5)
    assert torch.equal(first(input_ids), second(input_ids))
    assert not torch.equal(first(input_ids), other(input_ids))


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint folder"):
        TinyLlamaFactory().build_and_load_model("cpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="tiny_llama.json"):
        TinyLlamaFactory(model=str(empty)).build_model("meta")


def test_checkpoint_of_another_shape_is_a_checkpoint_error(tmp_path):
    folder = write_tiny_checkpoint(tmp_path / "small", TinyLlamaConfig(num_hidden_layers=1))
    factory = TinyLlamaFactory(model=str(folder), model_kwargs={"num_hidden_layers": 2})
    with pytest.raises(CheckpointError, match="does not fit"):
        factory.build_and_load_model("cpu")


def test_tiny_model_exports_and_keeps_its_outputs(checkpoint):
    factory = TinyLlamaFactory(model=str(checkpoint))
    model = factory.build_and_load_model("cpu")
    input_ids = factory.get_example_inputs(batch_size=2, seq_len=5)["input_ids"]
    exported = torch.export.export(model, (input_ids,))
    assert torch.equal(exported.module()(input_ids), model(input_ids))
