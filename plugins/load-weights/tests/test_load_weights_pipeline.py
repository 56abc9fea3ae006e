"""End to end with the real first-party plugins: the ``graph`` preset (build_model on meta,
export_to_gm, cleanups, load_weights, move_inputs_to_device, compile_model) on a ``save_pretrained``
checkpoint read by the Hugging Face factory gives from_pretrained's logits."""

from __future__ import annotations

import pytest
import torch
from load_weights_testkit import logits_of, save_tiny_llama, tiny_llama_config
from transformers import AutoModelForCausalLM

from autodeploy import CachedSequenceInterface, InferenceOptimizer, PluginHost
from autodeploy.graph import named_graphmodules

pytest.importorskip("autodeploy_hf", reason="needs the Hugging Face factory plugin")
pytest.importorskip("autodeploy_export", reason="needs the export plugin")


def run_graph_preset(folder, **factory_kwargs):
    host = PluginHost.from_environment()
    factory = host.factory_class("AutoModelForCausalLM")(model=str(folder), **factory_kwargs)
    result = InferenceOptimizer(factory, {"mode": "graph"}, host=host).run(
        CachedSequenceInterface(max_seq_len=64, max_batch_size=8, device="cpu")
    )
    return result.module, result.report


@pytest.mark.slow
@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_graph_preset_matches_from_pretrained(tmp_path, tie, input_ids):
    folder = save_tiny_llama(tmp_path / "ckpt", tie_word_embeddings=tie, max_shard_size="20KB")

    module, report = run_graph_preset(folder)

    keys = [record.key for record in report.records]
    assert keys.index("export_to_gm") < keys.index("load_weights") < keys.index("move_inputs_to_device")
    (load,) = report.by_key("load_weights")
    assert load.status.value == "applied" and load.num_matches == (20 if tie else 21)
    # the exported graph (behind the KV cache's wrapper, which the preset's cache_init puts around it)
    assert any(isinstance(gm, torch.fx.GraphModule) for _, gm in named_graphmodules(module))
    reference = AutoModelForCausalLM.from_pretrained(folder)
    assert (logits_of(module, input_ids) - logits_of(reference, input_ids)).abs().max().item() < 1e-5


@pytest.mark.slow
def test_graph_preset_with_skipped_weights_runs(tmp_path, input_ids):
    folder = tmp_path / "config_only"
    tiny_llama_config(tie_word_embeddings=True).save_pretrained(folder)

    module, _ = run_graph_preset(folder, skip_loading_weights=True)

    assert torch.isfinite(logits_of(module, input_ids)).all()
