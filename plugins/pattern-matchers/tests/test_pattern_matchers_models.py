"""The attention matchers on graphs exported from transformers' own code, eager attention
implementation, for every supported architecture (the sdpa implementation goes through the same
matchers in the kv-cache plugin's graph-mode tests): every layer is found, the model's mask
becomes dead code and is removed, and the graph still computes the model's logits."""

from __future__ import annotations

import pytest
import torch

from autodeploy import CachedSequenceInterface, InferenceOptimizer
from autodeploy.graph import new_pipeline_module
from autodeploy.testing import NUM_LAYERS, TINY_ARCHITECTURES, tiny_hf_model

pytestmark = pytest.mark.slow

MATCHERS = (
    "match_repeat_kv",
    "match_eager_attention",
    "match_sdpa_to_torch_attention",
    "match_grouped_attention",
    "match_attention_layout",
)
UP_TO_MATCHERS = {
    "mode": "graph",
    "transforms": {
        "build_model": {"enabled": False},
        "load_weights": {"enabled": False},
        "insert_cached_attention": {"enabled": False},
        "initialize_cache": {"enabled": False},
        "resize_kv_cache": {"enabled": False},
        # torch-simple turns op nodes into direct calls of their Python functions: look before it
        "compile_model": {"enabled": False},
    },
}


@pytest.fixture(scope="module", params=TINY_ARCHITECTURES)
def matched(request):
    model = tiny_hf_model(request.param, "eager")
    container = new_pipeline_module()
    container.factory_model = model
    cm = CachedSequenceInterface(max_seq_len=64, max_batch_size=2)
    result = InferenceOptimizer(None, UP_TO_MATCHERS).run(cm, container)
    counts = {record.key: record.num_matches for record in result.report.records if record.key in MATCHERS}
    return request.param, model, result.module, counts


def test_every_eager_attention_layer_is_matched(matched):
    arch, _, _, counts = matched
    gqa = arch != "gpt2"
    assert counts == {
        "match_repeat_kv": 2 * NUM_LAYERS if gqa else 0,
        "match_eager_attention": NUM_LAYERS,
        "match_sdpa_to_torch_attention": 0,
        "match_grouped_attention": NUM_LAYERS if gqa else 0,
        "match_attention_layout": NUM_LAYERS,
    }


def test_the_models_mask_is_gone_and_the_logits_stay(matched):
    _, model, module, _ = matched
    gm = module.factory_model
    targets = {str(node.target) for node in gm.graph.nodes}
    assert "autodeploy.torch_attention.default" in targets
    assert not any("softmax" in target or "scaled_dot_product" in target for target in targets)
    # nothing of transformers' mask code is left (it was dead once attention was causal itself)
    assert not [node.name for node in gm.graph.nodes if "masking_utils" in node.meta.get("stack_trace", "")]
    ids = torch.randint(3, 128, (2, 40), generator=torch.Generator().manual_seed(0))  # past the sliding windows
    with torch.no_grad():
        diff = (module(input_ids=ids) - model(input_ids=ids, use_cache=False).logits).abs().max().item()
    assert diff < 1e-4
