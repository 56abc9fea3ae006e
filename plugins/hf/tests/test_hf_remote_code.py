"""Code shipped with a checkpoint (``auto_map``) runs only with trust_remote_code; without it the
error says how to opt in; built-in code is preferred when transformers has it. Remote models whose
``_init_weights`` ignores their buffers still get them (the rebuild fallback of init_buffers)."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import pytest
import torch
from autodeploy_hf import AutoModelForCausalLMFactory
from hf_testkit import logits
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForCausalLM, LlamaForCausalLM

from autodeploy import CheckpointError

CONFIG_CODE = """
from transformers import PretrainedConfig


class TinyCustomConfig(PretrainedConfig):
    model_type = "autodeploy_tiny_custom"

    def __init__(self, vocab_size=64, hidden_size=16, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        super().__init__(**kwargs)
"""

MODEL_CODE = """
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_tiny_custom import TinyCustomConfig


class TinyCustomForCausalLM(PreTrainedModel):
    config_class = TinyCustomConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        # computed here only: the default _init_weights knows nothing about it
        scale = torch.arange(1, config.hidden_size + 1, dtype=torch.float32) / config.hidden_size
        self.register_buffer("scale", scale, persistent=False)
        self.post_init()

    def forward(self, input_ids, **kwargs):
        return CausalLMOutput(logits=self.head(self.embed(input_ids) * self.scale))
"""


@pytest.fixture(scope="module")
def custom_code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("autodeploy_tiny_custom_ckpt")
    (folder / "configuration_tiny_custom.py").write_text(textwrap.dedent(CONFIG_CODE))
    (folder / "modeling_tiny_custom.py").write_text(textwrap.dedent(MODEL_CODE))
    config = {
        "model_type": "autodeploy_tiny_custom",
        "architectures": ["TinyCustomForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_tiny_custom.TinyCustomConfig",
            "AutoModelForCausalLM": "modeling_tiny_custom.TinyCustomForCausalLM",
        },
        "vocab_size": 64,
        "hidden_size": 16,
    }
    (folder / "config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(
        AutoConfig.from_pretrained(folder, trust_remote_code=True), trust_remote_code=True
    )
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        folder / "model.safetensors",
        metadata={"format": "pt"},
    )
    return folder


def test_remote_code_needs_trust(custom_code_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(custom_code_dir))
    with pytest.raises(CheckpointError) as caught:
        factory.build_model("meta")
    message = str(caught.value)
    assert message.startswith(str(custom_code_dir / "config.json"))
    assert "set trust_remote_code: true" in message and "modeling_tiny_custom.TinyCustomForCausalLM" in message


def test_trusted_remote_code_builds_and_loads(custom_code_dir: Path) -> None:
    factory = AutoModelForCausalLMFactory(model=str(custom_code_dir), trust_remote_code=True)
    meta = factory.build_model("meta")
    assert type(meta).__name__ == "TinyCustomForCausalLM" and all(p.is_meta for p in meta.parameters())
    input_ids = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(0))
    # the reference is built directly (its constructor computes the buffer), then loaded: transformers'
    # own from_pretrained leaves this model's buffer uninitialised, since its _init_weights ignores it
    config = AutoConfig.from_pretrained(custom_code_dir, trust_remote_code=True)
    reference = AutoModelForCausalLM.from_config(config, trust_remote_code=True)
    reference.load_state_dict(load_file(custom_code_dir / "model.safetensors"))
    expected = logits(reference, input_ids)
    assert torch.equal(logits(factory.build_and_load_model("cpu"), input_ids), expected)
    factory.load_or_random_init(meta, "cpu")
    assert torch.equal(logits(meta, input_ids), expected)


def test_buffers_unknown_to_init_weights_are_rebuilt(custom_code_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    factory = AutoModelForCausalLMFactory(model=str(custom_code_dir), trust_remote_code=True)
    with caplog.at_level(logging.WARNING, logger="autodeploy_hf"):
        buffers = factory.init_buffers("cpu")
    assert torch.equal(buffers["scale"], torch.arange(1, 17, dtype=torch.float32) / 16)
    assert "does not recompute scale" in caplog.text


def test_builtin_code_is_used_when_auto_map_is_not_trusted(
    llama_dir: Path, checkpoint_copy, caplog: pytest.LogCaptureFixture
) -> None:
    folder = checkpoint_copy(llama_dir)
    config = folder / "config.json"
    data = json.loads(config.read_text())
    data["auto_map"] = {"AutoModelForCausalLM": "modeling_custom_llama.CustomLlamaForCausalLM"}
    config.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="autodeploy_hf"):
        model = AutoModelForCausalLMFactory(model=str(folder)).build_model("meta")
    assert type(model) is LlamaForCausalLM
    assert "not run because trust_remote_code is false" in caplog.text
