"""gather_logits_before_lm_head in a cached graph: one logits row per sequence of a packed step.

A packed step holds the new tokens of several sequences in one row (prefill chunks and decodes
mixed); the lm_head must run on each sequence's last new token, and logits row i must belong to
sequence i. Checked on a tiny Llama (graph preset, the transform enabled) against the eager model
run on each whole sequence, step by step and through the continuous-batching engine with a token
budget small enough that prompts are prefilled in chunks while others decode.
"""

from __future__ import annotations

import pytest
import torch
from kv_cache_testkit import Optimized, eager_logits, optimize, random_ids

from autodeploy.runtime import Engine, SamplingParams

pytestmark = pytest.mark.slow

GATHER = {"gather_logits_before_lm_head": {"enabled": True}}


@pytest.fixture(scope="module")
def gathered() -> Optimized:
    return optimize("llama", "graph", transforms=GATHER)


def test_the_cached_graph_takes_the_last_token_index(gathered):
    assert gathered.matches("gather_logits_before_lm_head") == 1
    assert "last_token_index" in gathered.cm.graph_inputs
    gm = gathered.module.factory_model.model
    gathers = [n for n in gm.graph.nodes if "gather_logits_before_lm_head" in str(n.target)]
    assert len(gathers) == 1 and gathers[0].args[1].name == "last_token_index"


def test_each_row_of_a_mixed_step_is_its_sequences_last_token(gathered):
    a, b, c = random_ids(12, seed=31), random_ids(9, seed=32), random_ids(5, seed=33)
    alone = {name: eager_logits(gathered.eager, ids) for name, ids in (("a", a), ("b", b), ("c", c))}
    first = gathered.step([a[:10]], [0], [3])  # a prefills in slot 3: one row, its position 9
    assert first.shape[0] == 1
    # a decodes, b prefills 8 tokens, c prefills all 5: three rows, in the step's order
    mixed = gathered.step([[a[10]], b[:8], c], [10, 0, 0], [3, 0, 2])
    assert mixed.shape[0] == 3
    decode = gathered.step([b[8:9], a[11:12], [7]], [8, 11, 5], [0, 3, 2])  # all decode, another order
    assert decode.shape[0] == 3
    expected = torch.stack([alone["a"][9], alone["a"][10], alone["b"][7], alone["c"][4], alone["b"][8], alone["a"][11]])
    got = torch.cat([first, mixed, decode[:2]])
    assert (got - expected).abs().max().item() < 1e-4


def test_whole_sequence_calls_return_each_sequences_last_position(gathered):
    ids = torch.tensor([random_ids(6, seed=41), random_ids(6, seed=42)])
    with torch.no_grad():
        logits = gathered.module(input_ids=ids)
    expected = torch.stack([eager_logits(gathered.eager, row.tolist())[-1:] for row in ids])
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max().item() < 1e-4


def test_the_engine_with_chunked_prefills_matches_generate_per_prompt(gathered):
    """Three prompts, a budget of 8 tokens a step: prefill chunks share steps with decodes."""
    prompts = [random_ids(n, seed=50 + n) for n in (3, 13, 20)]
    gathered.eager.generation_config.eos_token_id = None
    expected = []
    for prompt in prompts:
        with torch.no_grad():
            out = gathered.eager.generate(
                torch.tensor([prompt]), max_new_tokens=10, do_sample=False, pad_token_id=0, use_cache=True
            )
        expected.append(out[0, len(prompt) :].tolist())
    cm = gathered.cm
    budget = cm.max_num_tokens
    cm.max_num_tokens = 8
    try:
        engine = Engine(gathered.module, cm)
        ids = [engine.add_request(p, SamplingParams(max_tokens=10)) for p in prompts]
        got: dict[str, list[int]] = {}
        mixed_steps = 0
        while engine.has_unfinished():
            plan_sizes = [r.num_pending for r in engine.scheduler.running]
            mixed_steps += any(size == 1 for size in plan_sizes) and any(size > 1 for size in plan_sizes)
            for output in engine.step():
                if output.finished:
                    got[output.request_id] = list(output.token_ids)
    finally:
        cm.max_num_tokens = budget
    assert [got[i] for i in ids] == expected
    assert mixed_steps > 0  # the budget really made decodes and prefill chunks share steps
