"""Cached attention on tiny transformers models of every supported architecture, in graph and
transformers modes, against the eager model: the logits of the prefill and of every decode step,
greedy generation against ``generate(do_sample=False)``, and a mixed prefill + decode step against
separate runs. The graph-mode pipelines also show what the attention matchers found (sdpa)."""

from __future__ import annotations

import pytest
import torch
from kv_cache_testkit import MAX_BATCH, MAX_SEQ_LEN, Optimized, eager_logits, optimize, random_ids

from autodeploy.graph import greedy_generate
from autodeploy.testing import NUM_LAYERS, TINY_ARCHITECTURES

pytestmark = pytest.mark.slow

MODES = ("graph", "transformers")
PROMPT_LEN, NEW_TOKENS = 7, 64


@pytest.fixture(scope="module", params=[(arch, mode) for arch in TINY_ARCHITECTURES for mode in MODES], ids="-".join)
def optimized(request) -> Optimized:
    arch, mode = request.param
    return optimize(arch, mode)


def test_the_cache_is_inserted_and_allocated(optimized):
    cm = optimized.cm
    kv_heads, head_dim = (4, 16) if optimized.arch == "gpt2" else (2, 16)
    assert cm.cache_names == [f"{kind}_{layer}" for layer in range(NUM_LAYERS) for kind in ("k_cache", "v_cache")]
    expected_bytes = 2 * NUM_LAYERS * MAX_BATCH * MAX_SEQ_LEN * kv_heads * head_dim * 4
    record = next(r for r in optimized.report.records if r.key == "initialize_cache")
    assert record.info.details["cache_bytes"] == expected_bytes == cm.cache_bytes()
    assert "initialize_cache: cache_bytes=" in optimized.report.format_table()
    if optimized.mode == "graph":  # every layer's sdpa matched; repeat_kv folded into GQA
        gqa = optimized.arch != "gpt2"
        assert optimized.matches("match_sdpa_to_torch_attention") == NUM_LAYERS
        assert optimized.matches("match_repeat_kv") == (2 * NUM_LAYERS if gqa else 0)
        assert optimized.matches("match_grouped_attention") == (NUM_LAYERS if gqa else 0)
        assert optimized.matches("match_attention_layout") == NUM_LAYERS
        assert optimized.matches("insert_cached_attention") == NUM_LAYERS
    else:
        assert optimized.matches("detect_hf_attn_layers") == NUM_LAYERS
        assert optimized.matches("transformers_replace_cached_attn") == NUM_LAYERS


def test_prefill_and_every_decode_step_match_the_eager_model(optimized):
    # 7 + 24 = 31 tokens: past the sliding window (16) of Mistral and Phi-3
    ids = random_ids(PROMPT_LEN + 24, seed=11)
    expected = eager_logits(optimized.eager, ids)
    got = [optimized.step([ids[:PROMPT_LEN]], [0], [1])]
    for pos in range(PROMPT_LEN, len(ids)):
        got.append(optimized.step([[ids[pos]]], [pos], [1]))
    diff = (torch.cat(got) - expected).abs().max().item()
    assert diff < 1e-4, diff


def test_greedy_tokens_equal_hf_generate(optimized):
    prompts = torch.tensor([random_ids(PROMPT_LEN, seed=21), random_ids(PROMPT_LEN, seed=22)])
    optimized.eager.generation_config.eos_token_id = None
    with torch.no_grad():
        expected = optimized.eager.generate(
            prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0
        )
    got = greedy_generate(optimized.module, prompts, NEW_TOKENS, cm=optimized.cm)
    assert got.shape == (2, PROMPT_LEN + NEW_TOKENS)
    assert got.tolist() == expected.tolist()


def test_a_mixed_prefill_and_decode_step_equals_separate_runs(optimized):
    a, b = random_ids(12, seed=31), random_ids(9, seed=32)
    alone_a = eager_logits(optimized.eager, a)
    alone_b = eager_logits(optimized.eager, b)
    first = optimized.step([a[:10]], [0], [3])  # a prefills in slot 3
    mixed = optimized.step([[a[10]], b[:8]], [10, 0], [3, 0])  # a decodes while b prefills in slot 0
    decode = optimized.step([b[8:9], a[11:12]], [8, 11], [0, 3])  # both decode, in another order
    got_a = torch.cat([first, mixed[:1], decode[1:]])
    got_b = torch.cat([mixed[1:], decode[:1]])
    assert (got_a - alone_a).abs().max().item() < 1e-4
    assert (got_b - alone_b).abs().max().item() < 1e-4


def test_called_like_the_model_it_computes_whole_sequences(optimized):
    ids = [random_ids(10, seed=41), random_ids(10, seed=42)]
    with torch.no_grad():
        got = optimized.module(input_ids=torch.tensor(ids))
    got = getattr(got, "logits", got)
    expected = torch.stack([eager_logits(optimized.eager, row) for row in ids])
    assert got.shape == expected.shape and (got - expected).abs().max().item() < 1e-4
