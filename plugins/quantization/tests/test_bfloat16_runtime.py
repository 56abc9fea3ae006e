"""``dtype: bfloat16`` end to end through the cached runtime: weights, KV cache and decoding.

A tiny random Llama (seeded, spread logits so that argmax has no near-ties) runs through the
``graph`` preset with the KV cache; its greedy tokens must equal Hugging Face's ``generate`` in
bfloat16 and its prefill logits must stay within bfloat16's precision of fp32.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

PROMPT = [3, 17, 42, 5, 99, 7]
NEW_TOKENS = 8


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    from autodeploy.testing import tiny_hf_model

    model = tiny_hf_model(
        "llama",
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        max_position_embeddings=128,
        initializer_range=0.5,
        eos_token_id=None,
        bos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=False,
    )
    folder = tmp_path_factory.mktemp("tiny-llama-bf16")
    model.save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def bf16_llm(tiny_llama):
    from autodeploy.runtime import LLM

    return LLM(str(tiny_llama[0]), mode="graph", max_seq_len=64, max_batch_size=2, dtype="bfloat16")


def test_weights_and_kv_cache_are_bfloat16(bf16_llm):
    weights = {p.dtype for p in bf16_llm.result.module.parameters()}
    assert weights == {torch.bfloat16}
    assert bf16_llm.cm.caches, "the graph preset allocates a KV cache"
    assert {cache.dtype for cache in bf16_llm.cm.caches.values()} == {torch.bfloat16}


def test_greedy_tokens_match_hf_generate_in_bfloat16(bf16_llm, tiny_llama):
    from autodeploy.runtime import SamplingParams

    hf = tiny_llama[1].to(torch.bfloat16)
    try:
        with torch.no_grad():
            expected = hf.generate(
                torch.tensor([PROMPT]), do_sample=False, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS
            )[0, len(PROMPT) :].tolist()
    finally:
        tiny_llama[1].to(torch.float32)
    output = bf16_llm.generate([PROMPT], SamplingParams(max_tokens=NEW_TOKENS, temperature=0))[0]
    assert list(output.token_ids) == expected


def test_prefill_logits_within_bfloat16_precision_of_fp32(bf16_llm, tiny_llama):
    from autodeploy.graph import logits_of

    cm = bf16_llm.cm
    cm.nest_sequences([PROMPT], input_pos=[0], cache_loc=[0])
    with torch.no_grad():
        logits = logits_of(bf16_llm.result.module(**cm.named_args)).float().reshape(len(PROMPT), -1)
        reference = tiny_llama[1](torch.tensor([PROMPT])).logits[0]
    assert logits.dtype == torch.float32 and logits.shape == reference.shape
    # bfloat16 keeps 8 bits of mantissa: a few 1e-2 of the logits' range after two layers
    scale = reference.abs().max().item()
    assert (logits - reference).abs().max().item() < 0.05 * scale
