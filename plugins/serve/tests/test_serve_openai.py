"""The real ``openai`` client against ``autodeploy serve``: completions, chat, streaming, models.

Greedy answers through the server equal ``python -m autodeploy run``'s for the same prompts
(the same chat-template framing, the same engine), and a streamed answer equals the whole one.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import openai
import pytest
from serve_test_support import API_KEY, TINY, server_environment

PROMPTS = ["What is the capital of France?", "Count to five.", "Name a colour"]
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def run_answers(model_cache, tmp_path_factory) -> list[dict]:
    """`python -m autodeploy run` on the same prompts: greedy, through the chat template."""
    folder = tmp_path_factory.mktemp("run_answers")
    prompts = folder / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    report = folder / "report.json"
    command = [
        sys.executable, "-m", "autodeploy", "run", "--model", TINY, "--prompts-file", str(prompts),
        "--max-new-tokens", str(MAX_TOKENS), "--report-json", str(report),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=server_environment(model_cache))
    assert result.returncode == 0, result.stdout + result.stderr
    generations = json.loads(report.read_text())["generations"]
    assert len(generations) == len(PROMPTS)
    return generations


def chat(client: openai.OpenAI, prompt: str, **options):
    options = {"max_tokens": MAX_TOKENS, "temperature": 0, **options}
    return client.chat.completions.create(model=TINY, messages=[{"role": "user", "content": prompt}], **options)


def test_models_and_health(client, base_url):
    assert [model.id for model in client.models.list()] == [TINY]
    assert httpx.get(f"{base_url}/health").json() == {"status": "ok"}  # no key needed for health


def test_chat_greedy_equals_run(client, run_answers):
    for prompt, expected in zip(PROMPTS, run_answers, strict=True):
        response = chat(client, prompt)
        choice = response.choices[0]
        assert response.object == "chat.completion" and response.model == TINY
        assert choice.message.role == "assistant"
        assert choice.message.content == expected["text"]
        assert choice.finish_reason == expected["finish_reason"]
        assert response.usage.completion_tokens == expected["num_new_tokens"]


def test_chat_stream_equals_the_whole_answer(client):
    whole = chat(client, PROMPTS[1])
    chunks = list(chat(client, PROMPTS[1], stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == whole.choices[0].message.content
    finishing = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert finishing == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_completions_whole_and_streamed(client):
    whole = client.completions.create(model=TINY, prompt=PROMPTS[0], max_tokens=MAX_TOKENS, temperature=0)
    assert whole.object == "text_completion"
    assert whole.usage.completion_tokens == MAX_TOKENS or whole.choices[0].finish_reason == "stop"
    streamed = list(
        client.completions.create(model=TINY, prompt=PROMPTS[0], max_tokens=MAX_TOKENS, temperature=0, stream=True)
    )
    assert "".join(chunk.choices[0].text for chunk in streamed) == whole.choices[0].text
    assert streamed[-1].choices[0].finish_reason == whole.choices[0].finish_reason


def test_completions_take_token_ids(client, model_cache):
    from transformers import AutoTokenizer

    from autodeploy import PluginHost

    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-plugin-default-model"})
    folder = host.hook.autodeploy_resolve_model(name=TINY, cache_dir=str(model_cache))
    ids = AutoTokenizer.from_pretrained(folder)("Hi there")["input_ids"]
    by_ids = client.completions.create(model=TINY, prompt=ids, max_tokens=4, temperature=0)
    by_text = client.completions.create(model=TINY, prompt="Hi there", max_tokens=4, temperature=0)
    assert by_ids.choices[0].text == by_text.choices[0].text
    assert by_ids.usage.prompt_tokens == len(ids)


def test_a_stop_string_ends_the_answer_before_it(client):
    full = client.completions.create(model=TINY, prompt="Hi", max_tokens=12, temperature=0).choices[0].text
    # a plain character past the first (random weights: some of the answer is not printable)
    index = next(i for i, char in enumerate(full) if i > 0 and char.isascii() and char.isprintable())
    cut = client.completions.create(model=TINY, prompt="Hi", max_tokens=12, temperature=0, stop=[full[index]])
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].text == full[: full.index(full[index])]


def test_seeded_sampling_is_reproducible(client):
    answers = [
        chat(client, PROMPTS[2], temperature=1.5, top_p=0.9, seed=7).choices[0].message.content for _ in range(2)
    ]
    assert answers[0] == answers[1]


def test_sse_framing_on_the_wire(base_url, auth):
    body = {"model": TINY, "prompt": "Hi", "max_tokens": 3, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{base_url}/v1/completions", json=body, headers=auth, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(event.startswith("data: {") for event in events[:-2])
