"""int8 and 4-bit weights on SmolLM2-135M-Instruct (the embedded default model), against fp32.

Quality bounds: the mean per-token negative log-likelihood of a fixed paragraph within 1% of
fp32 for int8 and 5% for 4-bit; int8 greedy decoding still answers the France question.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from quant_testkit import PARAGRAPH, fresh_copy, mean_nll, with_positions  # noqa: E402

from autodeploy import TransformStatus  # noqa: E402
from autodeploy.graph import greedy_generate  # noqa: E402
from autodeploy.testing import run_transform  # noqa: E402

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
LAYERS, LINEARS_PER_LAYER = 30, 4  # q/k/v joined, o, gate/up joined, down (fusions are on)


@pytest.fixture(scope="module")
def paragraph_ids(tokenizer):
    return torch.tensor([tokenizer(PARAGRAPH, add_special_tokens=False)["input_ids"]])


@pytest.fixture(scope="module")
def fp32_nll(smollm2_graph, paragraph_ids):
    return mean_nll(smollm2_graph[0], paragraph_ids)


@pytest.fixture(scope="module")
def int8(smollm2_graph, host):
    return run_transform("quantize_int8_linear", fresh_copy(smollm2_graph[0]), host=host, enabled=True)


@pytest.fixture(scope="module")
def int4(smollm2_graph, host):
    return run_transform("quantize_int4_linear", fresh_copy(smollm2_graph[0]), host=host, enabled=True)


def test_int8_quantizes_every_linear_but_the_lm_head(int8):
    module, record = int8
    assert record.status is TransformStatus.APPLIED
    assert record.num_matches == LAYERS * LINEARS_PER_LAYER
    targets = [str(n.target) for gm in module.modules() if isinstance(gm, torch.fx.GraphModule) for n in gm.graph.nodes]
    assert targets.count("autodeploy.int8_weight_linear.default") == LAYERS * LINEARS_PER_LAYER
    assert targets.count("aten.linear.default") == 1  # the lm_head, excluded by default
    # int8 plus one float32 scale per row: a little over a quarter of the fp32 bytes
    details = record.details
    assert 0.25 < details["bytes_after"] / details["bytes_before"] < 0.26
    assert details["backend"] == "int8pack"


def test_int8_answers_the_france_question(int8, tokenizer):
    text = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=False)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    output = greedy_generate(with_positions(int8[0]), ids, max_new_tokens=8, eos_token_id=tokenizer.eos_token_id)
    assert "Paris" in tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)


def test_int8_likelihood_within_one_percent_of_fp32(int8, paragraph_ids, fp32_nll):
    nll = mean_nll(int8[0], paragraph_ids)
    assert 1.0 < fp32_nll < 5.0  # a sane model on plain prose
    assert abs(nll - fp32_nll) / fp32_nll < 0.01, (nll, fp32_nll)


def test_int4_likelihood_within_five_percent_of_fp32(int4, paragraph_ids, fp32_nll):
    module, record = int4
    assert record.num_matches == LAYERS * LINEARS_PER_LAYER
    # 4 bits plus a scale and a zero (fp32) per 32 weights: about an eighth of the fp32 bytes
    assert 0.12 < record.details["bytes_after"] / record.details["bytes_before"] < 0.2
    nll = mean_nll(module, paragraph_ids)
    assert abs(nll - fp32_nll) / fp32_nll < 0.05, (nll, fp32_nll)
