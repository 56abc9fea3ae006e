"""skip_loading_weights: no checkpoint is read; the model gets deterministic random weights on the
device and runs, eager or exported."""

from __future__ import annotations

import torch
from autodeploy_load_weights.transforms import LoadWeightsToDevice
from load_weights_testkit import Container, SafetensorsLlamaFactory, export_on_meta, logits_of, tiny_llama_config
from transformers import AutoModelForCausalLM


def config_only_folder(folder, tie: bool = False):
    """A model folder with a config and no weights at all: a load that read them would fail."""
    tiny_llama_config(tie).save_pretrained(folder)
    return folder


def random_load(model, folder, cm, shared_config, **config):
    factory = SafetensorsLlamaFactory(model=folder, skip_loading_weights=True)
    transform = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False, **config)
    return transform(Container(model), cm, factory, shared_config), transform


def meta_model(tie: bool = False):
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(tiny_llama_config(tie))


def test_eager_random_init_gives_finite_logits(tmp_path, cm, shared_config, input_ids):
    folder = config_only_folder(tmp_path / "model")

    mod, transform = random_load(meta_model(), folder, cm, shared_config)

    logits = logits_of(mod, input_ids)
    assert logits.shape == (3, 11, 96)
    assert torch.isfinite(logits).all()
    assert logits.std() > 0
    assert transform.last_record.num_matches == len(mod.factory_model.state_dict())


def test_exported_graph_random_init_gives_finite_logits(tmp_path, cm, shared_config, input_ids):
    folder = config_only_folder(tmp_path / "model", tie=True)

    mod, _ = random_load(export_on_meta(meta_model(tie=True)), folder, cm, shared_config)

    assert torch.isfinite(logits_of(mod, input_ids)).all()


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, cm, shared_config, input_ids):
    folder = config_only_folder(tmp_path / "model")
    first, _ = random_load(meta_model(), folder, cm, shared_config, random_init_seed=7)
    second, _ = random_load(meta_model(), folder, cm, shared_config, random_init_seed=7)
    other, _ = random_load(meta_model(), folder, cm, shared_config, random_init_seed=8)

    torch.testing.assert_close(logits_of(first, input_ids), logits_of(second, input_ids), rtol=0, atol=0)
    assert not torch.equal(logits_of(first, input_ids), logits_of(other, input_ids))


def test_initialisation_rule_and_global_rng_untouched(tmp_path, cm, shared_config):
    folder = config_only_folder(tmp_path / "model", tie=True)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)

    mod, _ = random_load(meta_model(tie=True), folder, cm, shared_config, random_init_std=0.05)

    torch.testing.assert_close(torch.rand(3), expected_next)  # the global generator was not used
    model = mod.factory_model
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tie kept
    assert torch.equal(model.model.norm.weight, torch.ones(32))  # norm scales: ones
    q_proj = model.model.layers[0].self_attn.q_proj.weight
    assert abs(q_proj.std().item() - 0.05) < 0.01 and abs(q_proj.mean().item()) < 0.01
    # non-persistent buffers come from the factory, computed on the device
    assert torch.equal(
        model.model.rotary_emb.inv_freq,
        SafetensorsLlamaFactory(model=folder).init_buffers("cpu")["model.rotary_emb.inv_freq"],
    )
