"""init_buffers: the non-persistent buffers a meta build leaves on meta, computed on the device and
equal to what transformers' own load gives, across architectures and rope types."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from autodeploy_hf import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory
from autodeploy_hf.buffers import named_non_persistent_buffers
from hf_testkit import reference_model, save_checkpoint, tiny_llama_config
from transformers import AutoModelForImageTextToText


def non_persistent_buffers(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: module._buffers[local] for name, local, module in named_non_persistent_buffers(model)}


@pytest.mark.parametrize(
    ("folder_fixture", "expected_names"),
    [
        ("llama_dir", {"model.rotary_emb.inv_freq", "model.rotary_emb.original_inv_freq"}),
        ("qwen2_dir", {"model.rotary_emb.inv_freq", "model.rotary_emb.original_inv_freq"}),
        (
            "gemma_dir",
            {"model.rotary_emb.inv_freq", "model.rotary_emb.original_inv_freq", "model.embed_tokens.embed_scale"},
        ),
    ],
)
def test_buffers_equal_those_of_from_pretrained(
    folder_fixture: str, expected_names: set[str], request: pytest.FixtureRequest
) -> None:
    folder: Path = request.getfixturevalue(folder_fixture)
    factory = AutoModelForCausalLMFactory(model=str(folder))
    assert all(b.is_meta for b in non_persistent_buffers(factory.build_model("meta")).values())
    buffers = factory.init_buffers("cpu")
    reference = non_persistent_buffers(reference_model(folder))
    assert buffers.keys() == reference.keys() == expected_names
    for name, value in buffers.items():
        assert value.device.type == "cpu"
        assert value.dtype == reference[name].dtype, name
        assert torch.equal(value, reference[name]), name


def test_composite_model_buffers_come_from_each_sub_model(llava_dir: Path) -> None:
    factory = AutoModelForImageTextToTextFactory(model=str(llava_dir))
    buffers = factory.init_buffers("cpu")
    reference = non_persistent_buffers(reference_model(llava_dir, auto_class=AutoModelForImageTextToText))
    assert "model.vision_tower.embeddings.position_ids" in buffers  # the CLIP tower's integer buffer
    assert buffers.keys() == reference.keys()
    for name, value in buffers.items():
        assert torch.equal(value, reference[name]), name


def test_scaled_rope_buffers(tmp_path: Path) -> None:
    rope = {
        "rope_type": "llama3",
        "rope_theta": 500000.0,
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16,
    }
    folder = save_checkpoint(tmp_path / "llama3_rope", tiny_llama_config(rope_parameters=rope))
    buffers = AutoModelForCausalLMFactory(model=str(folder)).init_buffers("cpu")
    reference = reference_model(folder).model.rotary_emb
    default_inv_freq = 1.0 / (500000.0 ** (torch.arange(0, 8, 2, dtype=torch.float) / 8))
    assert not torch.equal(reference.inv_freq, default_inv_freq)  # the scaling did change the values
    assert torch.equal(buffers["model.rotary_emb.inv_freq"], reference.inv_freq)


def test_model_without_non_persistent_buffers(gpt2_dir: Path) -> None:
    assert AutoModelForCausalLMFactory(model=str(gpt2_dir)).init_buffers("cpu") == {}
