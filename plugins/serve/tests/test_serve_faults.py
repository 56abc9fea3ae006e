"""Bad input and faults: each bad request gets a 4xx with OpenAI's error body and changes nothing
for the others; a client that leaves mid-stream frees its slot at once; a full queue answers 429;
the API key is checked."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import openai
import pytest
from serve_test_support import API_KEY, MAX_BATCH_SIZE, MAX_QUEUE, TINY

GOOD = {"model": TINY, "messages": [{"role": "user", "content": "Tell me a story."}], "temperature": 0}
LONG_PROMPT = "x" * 600  # the byte tokenizer: 600 tokens, over max_seq_len 512


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def metrics(base_url: str) -> dict:
    return httpx.get(f"{base_url}/metrics", params={"format": "json"}).json()


def wait_until_idle(base_url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        snapshot = metrics(base_url)
        if snapshot["running"] == 0 or time.monotonic() > deadline:
            return snapshot
        time.sleep(0.05)


BAD_REQUESTS = [
    # (endpoint, body, status, param, code, words in the message)
    ("chat/completions", b"{not json", 400, None, None, "not valid JSON"),
    ("chat/completions", b"[1, 2]", 400, None, None, "must be a JSON object"),
    ("chat/completions", {**GOOD, "model": "gpt-4"}, 404, "model", "model_not_found", "'gpt-4' does not exist"),
    ("chat/completions", {**GOOD, "n": 2}, 400, "n", None, "n must be 1"),
    ("chat/completions", {**GOOD, "max_tokens": -3}, 400, "max_tokens", None, "max_tokens must be an integer >= 1"),
    ("chat/completions", {**GOOD, "temperature": 2.5}, 400, "temperature", None, "temperature must be in [0, 2]"),
    ("chat/completions", {**GOOD, "temperature": "hot"}, 400, "temperature", None, "must be a number"),
    ("chat/completions", {**GOOD, "top_p": 0}, 400, "top_p", None, "top_p must be in (0, 1]"),
    ("chat/completions", {**GOOD, "max_token": 5}, 400, "max_token", None, "did you mean 'max_tokens'"),
    ("chat/completions", {"model": TINY}, 400, "messages", None, "messages is required"),
    ("chat/completions", {**GOOD, "messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role", None, "role must be one of"),
    ("completions", {"model": TINY, "prompt": LONG_PROMPT}, 400, "prompt", "context_length_exceeded", "maximum context length is 512"),
    ("completions", {"model": TINY, "prompt": "Hi", "max_tokens": 600}, 400, "max_tokens", "context_length_exceeded", "lower max_tokens to at most"),
    ("completions", {"model": TINY, "prompt": ["a", "b"]}, 400, "prompt", None, "one prompt"),
    ("completions", {"model": TINY, "prompt": "Hi", "stop": ["a", "b", "c", "d", "e"]}, 400, "stop", None, "at most 4"),
    ("completions", {"model": TINY, "prompt": "Hi", "logprobs": 3}, 400, "logprobs", None, "not supported"),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body", "status", "param", "code", "words"), BAD_REQUESTS)
def test_bad_requests_get_an_openai_error(base_url, auth, endpoint, body, status, param, code, words):
    url = f"{base_url}/v1/{endpoint}"
    if isinstance(body, bytes):
        response = httpx.post(url, content=body, headers={**auth, "content-type": "application/json"})
    else:
        response = httpx.post(url, json=body, headers=auth)
    assert response.status_code == status
    error = error_of(response)
    assert (error["param"], error["code"]) == (param, code)
    assert words in error["message"]
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")


def test_bad_requests_change_nothing_for_a_running_one(base_url, auth):
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    question = {"model": TINY, "messages": GOOD["messages"], "max_tokens": 12, "temperature": 0}
    expected = client.chat.completions.create(**question).choices[0].message.content
    streamed: list[str] = []

    def stream() -> None:
        for chunk in client.chat.completions.create(**question, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                streamed.append(chunk.choices[0].delta.content)

    worker = threading.Thread(target=stream)
    worker.start()
    for endpoint, body, status, *_ in BAD_REQUESTS:
        data = {"content": body} if isinstance(body, bytes) else {"json": body}
        assert httpx.post(f"{base_url}/v1/{endpoint}", headers=auth, **data).status_code == status
    worker.join(60)
    assert "".join(streamed) == expected


def test_the_openai_client_raises_its_own_error_classes(base_url):
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    with pytest.raises(openai.BadRequestError) as bad:
        client.completions.create(model=TINY, prompt="Hi", n=3)
    assert bad.value.body["param"] == "n"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="nope", prompt="Hi")
    wrong_key = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong_key.models.list()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": API_KEY}])
def test_the_api_key_is_checked(base_url, headers):
    for method, path in (("GET", "models"), ("POST", "completions"), ("POST", "chat/completions")):
        response = httpx.request(method, f"{base_url}/v1/{path}", json={"prompt": "Hi"}, headers=headers)
        assert response.status_code == 401
        error = error_of(response)
        assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")
        assert "Authorization: Bearer" in error["message"]


def test_unknown_paths_get_an_openai_error(base_url, auth):
    response = httpx.get(f"{base_url}/v1/engines", headers=auth)
    assert response.status_code == 404 and "GET /v1/engines" in error_of(response)["message"]


def test_a_client_leaving_mid_stream_frees_its_slot(base_url, auth):
    before = wait_until_idle(base_url)
    body = {"model": TINY, "prompt": "Go on forever.", "max_tokens": 400, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{base_url}/v1/completions", json=body, headers=auth, timeout=60) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert '"text_completion"' in first
        assert metrics(base_url)["running"] == 1
    left = time.monotonic()
    after = wait_until_idle(base_url, timeout=10)
    assert after["running"] == 0, after
    assert time.monotonic() - left < 5  # at once: at the engine's next steps, not after 400 tokens
    assert after["requests"]["aborted"] == before["requests"]["aborted"] + 1


def test_a_full_queue_answers_429_and_recovers(base_url, auth):
    before = wait_until_idle(base_url)
    capacity = MAX_BATCH_SIZE + MAX_QUEUE
    body = {**GOOD, "max_tokens": 400, "stream": True}

    async def overload() -> tuple[list[int], httpx.Response]:
        async with httpx.AsyncClient(base_url=f"{base_url}/v1", headers=auth, timeout=60) as client:
            holders = []
            for _ in range(capacity):  # chat streams answer their headers at once (the role chunk)
                request = client.build_request("POST", "/chat/completions", json=body)
                holders.append(await client.send(request, stream=True))
            statuses = [holder.status_code for holder in holders]
            refused = await client.post("/chat/completions", json=body)
            await refused.aread()
            for holder in holders:
                await holder.aclose()
            return statuses, refused

    statuses, refused = asyncio.run(overload())
    assert statuses == [200] * capacity
    assert refused.status_code == 429
    error = error_of(refused)
    assert (error["type"], error["code"]) == ("rate_limit_error", "queue_full")
    assert "at capacity" in error["message"]
    after = wait_until_idle(base_url, timeout=30)
    assert after["running"] == after["queue_length"] == 0, after
    assert after["requests"]["aborted"] - before["requests"]["aborted"] == capacity
    ok = httpx.post(f"{base_url}/v1/completions", json={"model": TINY, "prompt": "Hi", "max_tokens": 2}, headers=auth)
    assert ok.status_code == 200  # the server recovered
