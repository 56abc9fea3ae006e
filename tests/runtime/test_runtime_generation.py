"""The runtime generates what Hugging Face generates, and batching changes no one's answer.

Through `LLM` over the real presets (graph and transformers modes) on a tiny random Llama, fp32:
greedy equals ``generate(do_sample=False)`` token for token; prompts of different lengths
batched together, a request joining while others decode, a refused prompt, aborts, chunked
prefill, seeded sampling and streaming all leave each answer as it is alone.
"""

from __future__ import annotations

import threading

import pytest
from runtime_support import MAX_BATCH_SIZE, MAX_SEQ_LEN, hf_greedy, prompt_of

from autodeploy.runtime import ABORT, ERROR, LENGTH, STOP, Engine, RequestError, SamplingParams

NEW = 12
GREEDY = SamplingParams(max_tokens=NEW)
PROMPTS = [prompt_of(length, seed) for seed, length in enumerate((5, 17, 3, 40, 9, 26))]


def alone(llm, prompt, params=GREEDY):
    [output] = llm.generate([prompt], params)
    return list(output.token_ids)


def run_engine(engine: Engine, until_done=True):
    """Step until nothing is left; the finished outputs by request id."""
    finished = {}
    while engine.has_unfinished():
        for output in engine.step():
            if output.finished:
                finished[output.request_id] = output
    return finished


@pytest.mark.parametrize("mode", ["graph", "transformers"])
def test_greedy_equals_hf_generate(request, hf_model, mode):
    llm = request.getfixturevalue(f"{mode}_llm")
    for prompt in (PROMPTS[0], PROMPTS[3]):
        [output] = llm.generate([prompt], SamplingParams(max_tokens=64))
        assert list(output.token_ids) == hf_greedy(hf_model, prompt, 64)
        assert output.finish_reason == LENGTH and output.prompt_token_ids == tuple(prompt)


def test_prompts_of_different_lengths_batched_answer_as_alone(graph_llm):
    expected = [alone(graph_llm, prompt) for prompt in PROMPTS]
    outputs = graph_llm.generate(PROMPTS, GREEDY)  # 6 prompts, 4 slots: two wait for a free slot
    assert [list(output.token_ids) for output in outputs] == expected
    assert all(output.finish_reason == LENGTH for output in outputs)


def test_a_request_joining_during_decoding_changes_no_one_else(graph_llm):
    engine = graph_llm.engine
    first = engine.add_request(PROMPTS[1], GREEDY)
    for _ in range(5):
        engine.step()
    second = engine.add_request(PROMPTS[3], SamplingParams(max_tokens=8))
    finished = run_engine(engine)
    assert list(finished[first].token_ids) == alone(graph_llm, PROMPTS[1])
    assert list(finished[second].token_ids) == alone(graph_llm, PROMPTS[3], SamplingParams(max_tokens=8))


def test_a_refused_prompt_leaves_the_others_intact(graph_llm):
    too_long = prompt_of(MAX_SEQ_LEN, 99)
    outputs = graph_llm.generate([PROMPTS[0], too_long, [], PROMPTS[2]], GREEDY)
    assert outputs[1].finish_reason == ERROR and "max_seq_len" in outputs[1].error
    assert outputs[2].finish_reason == ERROR and "empty" in outputs[2].error
    assert list(outputs[0].token_ids) == alone(graph_llm, PROMPTS[0])
    assert list(outputs[3].token_ids) == alone(graph_llm, PROMPTS[2])
    with pytest.raises(RequestError, match=r"plus max_tokens 100 needs 140 positions, more than max_seq_len 128"):
        graph_llm.engine.add_request(prompt_of(40, 1), SamplingParams(max_tokens=100))
    with pytest.raises(RequestError, match=r"vocabulary \[0, 128\)"):
        graph_llm.engine.add_request([1, 500], GREEDY)


def test_seeded_sampling_repeats_and_ignores_the_batch(graph_llm):
    sampled = [SamplingParams(max_tokens=NEW, temperature=1.0, top_p=0.9, seed=seed) for seed in range(3)]
    alone_runs = [alone(graph_llm, prompt, params) for prompt, params in zip(PROMPTS, sampled, strict=False)]
    batched = graph_llm.generate(PROMPTS[:3] + PROMPTS[3:5], sampled + [GREEDY, GREEDY])
    assert [list(output.token_ids) for output in batched[:3]] == alone_runs
    again = graph_llm.generate(PROMPTS[:3], sampled)
    assert [list(output.token_ids) for output in again] == alone_runs
    assert alone_runs[0] != alone(graph_llm, PROMPTS[0])  # it did sample, not just take the argmax


def test_top_k_1_equals_greedy(graph_llm):
    top1 = SamplingParams(max_tokens=NEW, temperature=0.8, top_k=1, seed=5)
    assert [list(o.token_ids) for o in graph_llm.generate(PROMPTS[:3], top1)] == [
        alone(graph_llm, prompt) for prompt in PROMPTS[:3]
    ]


def test_streaming_yields_the_tokens_of_generate(graph_llm):
    deltas = list(graph_llm.generate_stream(PROMPTS[4], GREEDY))
    assert [token for delta in deltas for token in delta.new_token_ids] == alone(graph_llm, PROMPTS[4])
    assert "".join(delta.new_text for delta in deltas) == deltas[-1].text
    assert deltas[-1].finished and not any(delta.finished for delta in deltas[:-1])
    assert len(deltas) >= NEW // 2  # deltas as tokens come, not one at the end


def test_stop_strings_and_stop_token_ids(graph_llm):
    [full] = graph_llm.generate([PROMPTS[1]], GREEDY)
    words = full.text.split()
    stop = f"{words[3]} {words[4]}"
    [cut] = graph_llm.generate([PROMPTS[1]], GREEDY.with_updates(stop=[stop]))
    assert cut.finish_reason == STOP and cut.text == full.text[: full.text.index(stop)]
    stop_id = full.token_ids[6]
    [stopped] = graph_llm.generate([PROMPTS[1]], GREEDY.with_updates(stop_token_ids=[stop_id]))
    first = full.token_ids.index(stop_id)
    assert stopped.finish_reason == STOP and stopped.token_ids == full.token_ids[: first + 1]
    assert stopped.text == graph_llm.tokenizer.decode(list(full.token_ids[:first]))


def test_eos_ends_an_answer_unless_ignored(graph_llm):
    [full] = graph_llm.generate([PROMPTS[2]], GREEDY)
    eos = full.token_ids[4]
    engine = Engine(graph_llm.module, graph_llm.cm, graph_llm.tokenizer, eos_token_ids=[eos])
    ended = engine.add_request(PROMPTS[2], GREEDY)
    finished = run_engine(engine)
    assert finished[ended].finish_reason == STOP and finished[ended].token_ids[-1] == eos
    ignoring = engine.add_request(PROMPTS[2], GREEDY.with_updates(ignore_eos=True))
    assert run_engine(engine)[ignoring].token_ids == full.token_ids


def test_abort_frees_the_slot_for_a_waiting_request(graph_llm):
    engine = graph_llm.engine
    ids = [engine.add_request(PROMPTS[i], SamplingParams(max_tokens=50)) for i in range(MAX_BATCH_SIZE)]
    late = engine.add_request(PROMPTS[4], GREEDY)
    engine.step()
    assert {r.request_id for r in engine.scheduler.running} == set(ids)
    engine.abort(ids[1])
    outputs = engine.step()
    aborted = [o for o in outputs if o.request_id == ids[1]]
    assert aborted and aborted[0].finished and aborted[0].finish_reason == ABORT
    assert late in {r.request_id for r in engine.scheduler.running}  # took the freed slot in that step
    for request_id in ids:
        engine.abort(request_id)
    finished = run_engine(engine)
    assert list(finished[late].token_ids) == alone(graph_llm, PROMPTS[4])
    assert not engine.has_unfinished() and len(engine.scheduler._free_slots) == MAX_BATCH_SIZE


def test_a_long_prompt_is_prefilled_in_chunks_within_the_token_budget(graph_llm):
    cm = graph_llm.cm
    saved = cm.max_num_tokens
    cm.max_num_tokens = 8
    try:
        engine = Engine(graph_llm.module, cm, graph_llm.tokenizer)
        long_id = engine.add_request(PROMPTS[3], SamplingParams(max_tokens=6))  # 40 tokens, budget 8
        short_id = engine.add_request(PROMPTS[0], SamplingParams(max_tokens=6))
        finished = run_engine(engine)
    finally:
        cm.max_num_tokens = saved
    assert list(finished[long_id].token_ids) == alone(graph_llm, PROMPTS[3], SamplingParams(max_tokens=6))
    assert list(finished[short_id].token_ids) == alone(graph_llm, PROMPTS[0], SamplingParams(max_tokens=6))
    if engine.cached:
        assert engine.num_steps >= 40 // 8 + 5  # the prompt took several steps


def test_requests_added_from_another_thread_while_stepping(graph_llm):
    engine = graph_llm.engine
    added: list[str] = []

    def client():
        for prompt in PROMPTS[:3]:
            added.append(engine.add_request(prompt, SamplingParams(max_tokens=6)))

    thread = threading.Thread(target=client)
    first = engine.add_request(PROMPTS[5], SamplingParams(max_tokens=6))
    thread.start()
    finished = {}
    while thread.is_alive() or engine.has_unfinished():
        for output in engine.step():
            if output.finished:
                finished[output.request_id] = output
    thread.join()
    assert set(finished) == {first, *added}
    for request_id, prompt in zip(added, PROMPTS[:3], strict=True):
        assert list(finished[request_id].token_ids) == alone(graph_llm, prompt, SamplingParams(max_tokens=6))
