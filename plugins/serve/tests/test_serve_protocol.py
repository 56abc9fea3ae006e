"""Reading request bodies (no server): defaults, accepted spellings, and the field each refusal names."""

from __future__ import annotations

import pytest
from autodeploy_serve.errors import ApiError
from autodeploy_serve.protocol import CHAT, COMPLETIONS, parse_request

CHAT_BODY = {"messages": [{"role": "user", "content": "Hi"}]}


def test_defaults_are_openai_s():
    request = parse_request(COMPLETIONS, {"prompt": "Hi"})
    assert (request.model, request.prompt, request.max_tokens) == (None, "Hi", None)
    assert (request.temperature, request.top_p, request.top_k, request.seed) == (1.0, 1.0, None, None)
    assert (request.stop, request.stream, request.include_usage) == ((), False, False)


def test_accepted_spellings():
    assert parse_request(COMPLETIONS, {"prompt": ["Hi"]}).prompt == "Hi"
    assert parse_request(COMPLETIONS, {"prompt": [[1, 2]]}).prompt == [1, 2]
    assert parse_request(COMPLETIONS, {"prompt": "Hi", "stop": "x"}).stop == ("x",)
    assert parse_request(COMPLETIONS, {"prompt": "Hi", "top_k": -1}).top_k is None
    assert parse_request(CHAT, {**CHAT_BODY, "max_completion_tokens": 5}).max_tokens == 5
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}
    assert parse_request(CHAT, parts).messages == [{"role": "user", "content": "ab"}]
    streaming = parse_request(CHAT, {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}})
    assert streaming.stream and streaming.include_usage
    neutral = {"n": 1, "presence_penalty": 0, "frequency_penalty": 0.0, "logprobs": False, "user": "u", "tools": []}
    assert parse_request(CHAT, {**CHAT_BODY, **neutral}).messages == CHAT_BODY["messages"]


@pytest.mark.parametrize(
    ("kind", "body", "param", "words"),
    [
        (COMPLETIONS, "text", None, "must be a JSON object, got a string"),
        (COMPLETIONS, {}, "prompt", "prompt is required"),
        (COMPLETIONS, {"prompt": ""}, "prompt", "prompt is empty"),
        (COMPLETIONS, {"prompt": [1, -2]}, "prompt", "token ids must be >= 0"),
        (COMPLETIONS, {"prompt": [1.5]}, "prompt", "a non-empty string or an array of token ids"),
        (COMPLETIONS, {"prompt": "Hi", "max_tokens": True}, "max_tokens", "integer >= 1, got True"),
        (COMPLETIONS, {"prompt": "Hi", "max_tokens": 0}, "max_tokens", "integer >= 1, got 0"),
        (COMPLETIONS, {"prompt": "Hi", "temperature": float("nan")}, "temperature", "must be a number"),
        (COMPLETIONS, {"prompt": "Hi", "temperature": -0.1}, "temperature", "in [0, 2]"),
        (COMPLETIONS, {"prompt": "Hi", "top_p": 1.5}, "top_p", "in (0, 1]"),
        (COMPLETIONS, {"prompt": "Hi", "top_k": 2.0}, "top_k", "top_k must be an integer"),
        (COMPLETIONS, {"prompt": "Hi", "seed": "7"}, "seed", "seed must be an integer"),
        (COMPLETIONS, {"prompt": "Hi", "stop": [""]}, "stop", "non-empty"),
        (COMPLETIONS, {"prompt": "Hi", "stream": "yes"}, "stream", "true or false"),
        (COMPLETIONS, {"prompt": "Hi", "stream_options": {"include_usage": True}}, "stream_options", "only allowed with stream"),
        (COMPLETIONS, {"prompt": "Hi", "n": 0}, "n", "n must be 1"),
        (COMPLETIONS, {"prompt": "Hi", "best_of": 2}, "best_of", "best_of must be 1"),
        (COMPLETIONS, {"prompt": "Hi", "echo": True}, "echo", "not supported"),
        (COMPLETIONS, {"prompt": "Hi", "presence_penalty": 0.5}, "presence_penalty", "not supported"),
        (COMPLETIONS, {"prompt": "Hi", "messages": []}, "messages", "unrecognized request argument 'messages'"),
        (COMPLETIONS, {"prompt": "Hi", "model": 3}, "model", "model must be a string"),
        (CHAT, {"messages": []}, "messages", "non-empty array"),
        (CHAT, {"messages": ["Hi"]}, "messages[0]", "must be an object"),
        (CHAT, {"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "string or an array of text parts"),
        (CHAT, {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content", "text part"),
        (CHAT, {**CHAT_BODY, "tools": [{"type": "function"}]}, "tools", "not supported"),
        (CHAT, {**CHAT_BODY, "response_format": {"type": "json_object"}}, "response_format", "only {'type': 'text'}"),
        (CHAT, {**CHAT_BODY, "prompt": "Hi"}, "prompt", "unrecognized request argument 'prompt'"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(kind, body, param, words):
    with pytest.raises(ApiError) as refused:
        parse_request(kind, body)
    error = refused.value.body()["error"]
    assert refused.value.status == 400
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert words in error["message"]
