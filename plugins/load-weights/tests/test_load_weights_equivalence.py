"""load_weights gives the same model as ``from_pretrained``: real tiny Llama checkpoints written by
``save_pretrained`` (one file, and sharded), loaded into a meta-built eager model and into a
GraphModule exported on meta; logits compared with the eager ``from_pretrained`` model."""

from __future__ import annotations

import copy

import pytest
import torch
from autodeploy_load_weights.transforms import LoadWeightsToDevice
from load_weights_testkit import (
    Container,
    SafetensorsLlamaFactory,
    export_on_meta,
    logits_of,
    save_tiny_llama,
    tiny_llama_config,
)
from transformers import AutoModelForCausalLM

from autodeploy.graph import canonicalize_graph

LAYOUTS = {"single_file": "5GB", "sharded": "20KB"}


@pytest.fixture(scope="module")
def meta_graph():
    """A fresh meta GraphModule of the tiny Llama: exported once per tie setting, then deep-copied
    (cheap on meta) for each test, since loading changes it."""
    exported: dict[bool, torch.fx.GraphModule] = {}

    def make(tie: bool) -> torch.fx.GraphModule:
        if tie not in exported:
            with torch.device("meta"):
                model = AutoModelForCausalLM.from_config(tiny_llama_config(tie))
            exported[tie] = export_on_meta(model)
        return copy.deepcopy(exported[tie])

    return make


def run_load_weights(mod, factory, cm, shared_config, **config):
    transform = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False, **config)
    return transform(mod, cm, factory, shared_config), transform


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", ["eager", "graph"])
@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_logits_equal_from_pretrained(tmp_path, meta_graph, tie, layout, kind, cm, shared_config, input_ids):
    folder = save_tiny_llama(tmp_path / "ckpt", tie_word_embeddings=tie, max_shard_size=LAYOUTS[layout])
    shard_files = sorted(folder.glob("*.safetensors"))
    assert (len(shard_files) > 1) == (layout == "sharded")
    factory = SafetensorsLlamaFactory(model=folder)
    model = factory.build_model("meta") if kind == "eager" else meta_graph(tie)

    mod, transform = run_load_weights(Container(model), factory, cm, shared_config)

    reference = AutoModelForCausalLM.from_pretrained(folder)
    diff = (logits_of(mod, input_ids) - logits_of(reference, input_ids)).abs().max().item()
    assert diff < 1e-5
    assert transform.last_record.status.value == "applied"
    # every tensor of the checkpoint was put in place
    assert transform.last_record.num_matches == len(reference.state_dict()) - (1 if tie else 0)
    loaded = mod.factory_model
    assert not any(t.is_meta for t in (*loaded.parameters(), *loaded.buffers()))


def test_tied_embeddings_share_the_loaded_tensor(tmp_path, cm, shared_config):
    folder = save_tiny_llama(tmp_path / "ckpt", tie_word_embeddings=True)
    factory = SafetensorsLlamaFactory(model=folder)
    mod, _ = run_load_weights(Container(factory.build_model("meta")), factory, cm, shared_config)

    model = mod.factory_model
    assert model.lm_head.weight is model.model.embed_tokens.weight
    reference = AutoModelForCausalLM.from_pretrained(folder)
    torch.testing.assert_close(model.lm_head.weight, reference.model.embed_tokens.weight, rtol=0, atol=0)


def test_tied_graph_after_cleanup_loads_through_the_tie(tmp_path, meta_graph, cm, shared_config, input_ids):
    """The exported graph reads the tied tensor through ``lm_head.weight`` only, so a graph
    cleanup drops ``model.embed_tokens``; the checkpoint has only ``model.embed_tokens.weight``.
    The loader finds the tie through the factory's own (meta) model."""
    folder = save_tiny_llama(tmp_path / "ckpt", tie_word_embeddings=True)
    factory = SafetensorsLlamaFactory(model=folder)
    gm = meta_graph(True)
    canonicalize_graph(gm)
    names = {name for name, _ in gm.named_parameters(remove_duplicate=False)}
    assert "lm_head.weight" in names and "model.embed_tokens.weight" not in names

    mod, transform = run_load_weights(Container(gm), factory, cm, shared_config)

    reference = AutoModelForCausalLM.from_pretrained(folder)
    assert (logits_of(mod, input_ids) - logits_of(reference, input_ids)).abs().max().item() < 1e-5


def test_zero_copy_when_checkpoint_dtype_and_device_match(tmp_path, cm, shared_config):
    """fp32 checkpoint into an fp32 model on CPU: the parameters are the checkpoint's tensors."""
    folder = save_tiny_llama(tmp_path / "ckpt")
    factory = SafetensorsLlamaFactory(model=folder)
    shards = dict(factory.iter_checkpoint_shards())
    (shard,) = shards.values()

    class SameTensorsFactory(SafetensorsLlamaFactory):
        def iter_checkpoint_shards(self):
            yield from shards.items()

    mod, _ = run_load_weights(
        Container(factory.build_model("meta")), SameTensorsFactory(model=folder), cm, shared_config
    )
    q_proj = mod.factory_model.model.layers[0].self_attn.q_proj.weight
    assert q_proj.data_ptr() == shard["model.layers.0.self_attn.q_proj.weight"].data_ptr()


def test_casts_to_the_model_dtype(tmp_path, cm, shared_config, input_ids):
    folder = save_tiny_llama(tmp_path / "ckpt", max_shard_size="20KB")
    factory = SafetensorsLlamaFactory(model=folder, model_kwargs={"dtype": torch.bfloat16})

    mod, _ = run_load_weights(Container(factory.build_model("meta")), factory, cm, shared_config)

    assert {p.dtype for p in mod.factory_model.parameters()} == {torch.bfloat16}
    reference = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    torch.testing.assert_close(logits_of(mod, input_ids), logits_of(reference, input_ids), rtol=0, atol=0)


def test_loads_a_bare_model_without_container(tmp_path, cm, shared_config, input_ids):
    """Handed a model directly (no ``factory_model``), the module itself is loaded."""
    folder = save_tiny_llama(tmp_path / "ckpt")
    factory = SafetensorsLlamaFactory(model=folder)

    model, _ = run_load_weights(factory.build_model("meta"), factory, cm, shared_config)

    reference = AutoModelForCausalLM.from_pretrained(folder)
    assert (logits_of(model, input_ids) - logits_of(reference, input_ids)).abs().max().item() < 1e-5


def test_checkpoint_device_loads_there_then_moves_to_the_target(tmp_path, shared_config):
    """Weights are read on ``checkpoint_device`` and end on ``cm.device`` (here cpu, then meta)."""
    from autodeploy import CachedSequenceInterface

    folder = save_tiny_llama(tmp_path / "ckpt", tie_word_embeddings=True)
    factory = SafetensorsLlamaFactory(model=folder)
    meta_cm = CachedSequenceInterface(device="meta")

    mod, _ = run_load_weights(
        Container(factory.build_model("meta")), factory, meta_cm, shared_config, checkpoint_device="cpu"
    )

    model = mod.factory_model
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_tie_lost_in_the_module_is_restored_from_the_factory(tmp_path, cm, shared_config, input_ids):
    """A module whose tie was broken (two separate meta parameters) and a checkpoint that stores
    the tied tensor once: the name the checkpoint lacks takes the loaded tensor (re-tied)."""
    folder = save_tiny_llama(tmp_path / "ckpt", tie_word_embeddings=True)
    factory = SafetensorsLlamaFactory(model=folder)
    model = factory.build_model("meta")
    model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))
    assert model.lm_head.weight is not model.model.embed_tokens.weight

    mod, _ = run_load_weights(Container(model), factory, cm, shared_config)

    assert mod.factory_model.lm_head.weight is mod.factory_model.model.embed_tokens.weight
    reference = AutoModelForCausalLM.from_pretrained(folder)
    assert (logits_of(mod, input_ids) - logits_of(reference, input_ids)).abs().max().item() < 1e-5
