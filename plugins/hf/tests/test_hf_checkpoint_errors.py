"""Every bad checkpoint gives a CheckpointError naming the file and the problem, at build time,
and a damaged folder is still only read."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from autodeploy_hf import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory
from hf_testkit import folder_fingerprint
from safetensors.torch import load_file, save_file

from autodeploy import CheckpointError, ConfigError

Copy = Callable[[Path], Path]


def build_error(folder: Path, device: str = "meta", **factory_kwargs) -> CheckpointError:
    """The CheckpointError of building `folder` (and the same from build_and_load_model)."""
    factory = AutoModelForCausalLMFactory(model=str(folder), **factory_kwargs)
    with pytest.raises(CheckpointError) as build:
        factory.build_model(device)
    with pytest.raises(CheckpointError) as load:
        AutoModelForCausalLMFactory(model=str(folder), **factory_kwargs).build_and_load_model("cpu")
    assert str(load.value) == str(build.value)
    return build.value


def assert_names(error: BaseException, path: Path, *fragments: str) -> None:
    message = str(error)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert re.search(fragment, message), f"{fragment!r} not in {message!r}"


def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_model"
    assert_names(build_error(missing), missing, "does not exist")


def test_model_path_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "weights.txt"
    file.write_text("x")
    assert_names(build_error(file), file, "not a folder")


def test_no_model_given_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs `model`"):
        AutoModelForCausalLMFactory().build_model("meta")


def test_missing_config_json(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    (folder / "config.json").unlink()
    assert_names(build_error(folder), folder / "config.json", "missing")


def test_config_json_is_not_json(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    config = folder / "config.json"
    config.write_text(config.read_text()[:40])  # truncated
    assert_names(build_error(folder), config, "not valid JSON", r"line \d+ column \d+")


def test_config_json_cannot_be_read(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()  # reading it fails with IsADirectoryError, whoever runs the test
    assert_names(build_error(folder), folder / "config.json", "cannot be read")


def test_config_json_without_model_type(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    config = folder / "config.json"
    data = json.loads(config.read_text())
    del data["model_type"]
    config.write_text(json.dumps(data))
    assert_names(build_error(folder), config, 'no "model_type"')


def test_config_json_with_unknown_model_type(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    config = folder / "config.json"
    data = json.loads(config.read_text())
    data["model_type"] = "llama_but_not_really"
    config.write_text(json.dumps(data))
    assert_names(build_error(folder), config, "transformers cannot build a config", "llama_but_not_really")


def test_config_json_not_an_object(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    (folder / "config.json").write_text("[1, 2]")
    assert_names(build_error(folder), folder / "config.json", "JSON object")


@pytest.mark.parametrize("cut", [-100, 20, 0])
def test_truncated_safetensors(cut: int, llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:cut])
    assert_names(build_error(folder), weights, "not a valid safetensors file, truncated or corrupt")


def test_corrupt_safetensors_header(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:16] = b"\x00garbage"  # the JSON header
    weights.write_bytes(bytes(data))
    assert_names(build_error(folder), weights, "truncated or corrupt")


def test_truncated_shard(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    shard = sorted(folder.glob("model-*.safetensors"))[2]
    shard.write_bytes(shard.read_bytes()[:-10])
    assert_names(build_error(folder), shard, "truncated or corrupt")


def test_shard_listed_in_index_is_missing(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    shard = sorted(folder.glob("model-*.safetensors"))[1]
    shard.unlink()
    assert_names(build_error(folder), shard, "listed in model.safetensors.index.json but missing")


def test_broken_index(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    index = folder / "model.safetensors.index.json"
    index.write_text(index.read_text()[:-30])
    assert_names(build_error(folder), index, "not valid JSON")


def test_index_without_weight_map(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}}))
    assert_names(build_error(folder), index, "weight_map")


def test_index_pointing_outside_the_folder(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    index = folder / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    data["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors"
    index.write_text(json.dumps(data))
    assert_names(build_error(folder), index, "outside the checkpoint folder")


def test_index_lists_a_tensor_its_shard_lacks(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    index = folder / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    name, shard_name = next(iter(sorted(data["weight_map"].items())))
    other = next(s for s in sorted(set(data["weight_map"].values())) if s != shard_name)
    data["weight_map"][name] = other
    index.write_text(json.dumps(data))
    assert_names(build_error(folder), folder / other, "does not hold", re.escape(name))


def test_shapes_that_do_not_fit_the_config(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    config = folder / "config.json"
    data = json.loads(config.read_text())
    data["intermediate_size"] = 48
    config.write_text(json.dumps(data))
    error = build_error(folder)
    assert_names(error, folder, "do not have the shapes", r"mlp\.up_proj\.weight in model\.safetensors", r"\[64, 32\]")


def rewrite_safetensors(path: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    tensors = dict(load_file(path))
    change(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def test_integer_tensor_where_the_model_has_a_float_weight(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    weights = folder / "model.safetensors"
    name = "model.layers.1.mlp.down_proj.weight"
    rewrite_safetensors(weights, lambda tensors: tensors.update({name: tensors[name].to(torch.int32)}))
    error = build_error(folder)  # graph mode (build_model) and transformers mode (from_pretrained) alike
    assert_names(
        error,
        folder,
        "1 tensors have dtypes the model's tensors cannot take",
        re.escape(f"{name} in model.safetensors: checkpoint int32 vs model float32"),
    )


def test_bool_and_complex_tensors_are_refused_even_in_a_float16_model(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)

    def damage(tensors: dict[str, torch.Tensor]) -> None:
        tensors["model.norm.weight"] = tensors["model.norm.weight"] > 1.0
        tensors["lm_head.weight"] = tensors["lm_head.weight"].to(torch.complex64)

    rewrite_safetensors(folder / "model.safetensors", damage)
    error = build_error(folder, dtype="float16")
    assert_names(
        error,
        folder,
        "2 tensors have dtypes",
        re.escape("lm_head.weight in model.safetensors: checkpoint complex64 vs model float16"),
        re.escape("model.norm.weight in model.safetensors: checkpoint bool vs model float16"),
    )


def test_wrong_dtype_in_a_shard_names_the_shard(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    shard = sorted(folder.glob("model-*.safetensors"))[1]
    name = sorted(load_file(shard))[0]
    rewrite_safetensors(shard, lambda tensors: tensors.update({name: tensors[name].to(torch.int64)}))
    error = build_error(folder)
    assert_names(error, folder, re.escape(f"{name} in {shard.name}: checkpoint int64 vs model float32"))


def test_integer_tensor_in_a_bin_checkpoint(llama_bin_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_bin_dir)
    weights = folder / "pytorch_model.bin"
    state_dict = torch.load(weights, weights_only=True)
    state_dict["model.embed_tokens.weight"] = state_dict["model.embed_tokens.weight"].to(torch.int8)
    torch.save(state_dict, weights)
    error = build_error(folder)
    assert_names(
        error, folder, re.escape("model.embed_tokens.weight in pytorch_model.bin: checkpoint int8 vs model float32")
    )


def test_a_bfloat16_checkpoint_loads_into_a_float32_model(llama_dir: Path, checkpoint_copy: Copy) -> None:
    """Casting between floating-point dtypes is what ``dtype`` is for: no error, values cast."""
    folder = checkpoint_copy(llama_dir)
    weights = folder / "model.safetensors"
    rewrite_safetensors(weights, lambda tensors: tensors.update({k: v.to(torch.bfloat16) for k, v in tensors.items()}))
    checkpoint = load_file(weights)

    skeleton = AutoModelForCausalLMFactory(model=str(folder), dtype="float32").build_model("meta")
    assert skeleton.model.norm.weight.dtype == torch.float32
    model = AutoModelForCausalLMFactory(model=str(folder), dtype="float32").build_and_load_model("cpu")
    for name, tensor in model.state_dict().items():
        assert tensor.dtype == torch.float32, name
        if name in checkpoint:
            assert torch.equal(tensor, checkpoint[name].to(torch.float32)), name


@pytest.mark.parametrize(
    ("checkpoint_dtype", "model_dtype", "fits"),
    [
        ("bfloat16", torch.float32, True),
        ("float8_e4m3fn", torch.bfloat16, True),
        ("float64", torch.float16, True),
        ("int32", torch.float32, False),
        ("uint8", torch.bfloat16, False),
        ("bool", torch.float32, False),
        ("complex64", torch.float32, False),
        ("complex64", torch.int64, False),
        ("complex64", torch.complex64, True),
        ("int64", torch.int64, True),  # integer buffers (position ids, quantised storage) are the model's own
        ("float32", torch.int8, False),  # a float weight truncated to integers: refused, as load_weights does
        ("no_such_dtype", torch.float32, True),  # a dtype this torch does not know: the loader judges it
    ],
)
def test_which_checkpoint_dtypes_fit_which_model_tensors(checkpoint_dtype: str, model_dtype: torch.dtype, fits: bool):
    from autodeploy_hf.tensor_dtypes import dtype_fits

    assert dtype_fits(checkpoint_dtype, model_dtype) is fits


def test_tensor_missing_from_the_checkpoint(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    tensors["model.final_norm.weight"] = tensors.pop("model.norm.weight")  # a misnamed tensor
    save_file(tensors, weights, metadata={"format": "pt"})
    assert_names(build_error(folder), folder, r"no weight file \(model\.safetensors\) holds: model\.norm\.weight")


def test_extra_checkpoint_tensors_are_reported_not_fatal(
    llama_dir: Path, checkpoint_copy: Copy, caplog: pytest.LogCaptureFixture
) -> None:
    folder = checkpoint_copy(llama_dir)
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    tensors["model.unused.weight"] = torch.zeros(3)
    save_file(tensors, weights, metadata={"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="autodeploy_hf"):
        AutoModelForCausalLMFactory(model=str(folder)).build_model("meta")
    assert "model.unused.weight" in caplog.text and "not used" in caplog.text


def test_folder_without_weights(llama_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_dir)
    (folder / "model.safetensors").unlink()
    (folder / "consolidated.safetensors").write_bytes(b"")
    assert_names(build_error(folder), folder, "no weights found", "consolidated.safetensors", "skip_loading_weights")


def test_bin_with_python_objects_is_refused(llama_bin_dir: Path, checkpoint_copy: Copy) -> None:
    import argparse

    folder = checkpoint_copy(llama_bin_dir)
    weights = folder / "pytorch_model.bin"
    state_dict = torch.load(weights, weights_only=True)
    state_dict["optimizer_args"] = argparse.Namespace(lr=1.0)  # not a tensor: unpickling would run code
    torch.save(state_dict, weights)
    assert_names(build_error(folder), weights, r"weights_only=True", "refused")


def test_truncated_bin(llama_bin_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_bin_dir)
    weights = folder / "pytorch_model.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert_names(build_error(folder), weights, "truncated or corrupt")


def test_bin_that_is_not_a_state_dict(llama_bin_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_bin_dir)
    weights = folder / "pytorch_model.bin"
    torch.save([torch.zeros(2)], weights)
    assert_names(build_error(folder), weights, "flat state dict")


def test_config_of_another_kind_of_model(llama_dir: Path) -> None:
    factory = AutoModelForImageTextToTextFactory(model=str(llama_dir))
    with pytest.raises(CheckpointError) as caught:
        factory.build_model("meta")
    assert_names(caught.value, llama_dir / "config.json", "'llama'", "no AutoModelForImageTextToText model")


def test_errors_leave_the_folder_untouched(llama_sharded_dir: Path, checkpoint_copy: Copy) -> None:
    folder = checkpoint_copy(llama_sharded_dir)
    shard = sorted(folder.glob("model-*.safetensors"))[0]
    shard.write_bytes(shard.read_bytes()[:-1])
    before = folder_fingerprint(folder)
    build_error(folder)
    assert folder_fingerprint(folder) == before
