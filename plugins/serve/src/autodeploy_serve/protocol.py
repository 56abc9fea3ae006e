"""Reading an OpenAI request body into what the engine needs, refusing bad input field by field.

Checked here, before any engine work, so that a bad request is a 400 naming the field and
changes nothing for the requests already running: types (a JSON ``true`` is not a number),
ranges (OpenAI's: temperature 0..2, top_p in (0, 1]), what this server does not do (n > 1,
logprobs, tools) and unknown fields (a typo such as ``max_token`` is named, with the closest
field, instead of being silently ignored).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .errors import bad_request

COMPLETIONS = "completions"
CHAT = "chat"
MAX_STOP_STRINGS = 4
CHAT_ROLES = ("system", "developer", "user", "assistant", "tool")

_COMMON_FIELDS = {
    "model", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "n", "stream", "stream_options",
    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "user", "ignore_eos", "metadata",
    "store", "service_tier",
}  # fmt: skip
_FIELDS = {
    COMPLETIONS: _COMMON_FIELDS | {"prompt", "echo", "best_of", "suffix"},
    CHAT: _COMMON_FIELDS
    | {
        "messages", "max_completion_tokens", "top_logprobs", "response_format", "tools", "tool_choice",
        "parallel_tool_calls", "functions", "function_call",
    },
}  # fmt: skip

Prompt = Union[str, list[int]]


@dataclass(frozen=True)
class GenerationRequest:
    """One request, checked: what to answer and how to sample it.

    `prompt` is text or token ids (completions); `messages` the chat turns (chat). `max_tokens`
    None means the field was not given (the service picks the default for the endpoint).
    """

    kind: str
    model: Optional[str]
    prompt: Optional[Prompt] = None
    messages: list[dict[str, str]] = field(default_factory=list)
    max_tokens: Optional[int] = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: Optional[int] = None
    seed: Optional[int] = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    stream: bool = False
    include_usage: bool = False


def parse_request(kind: str, body: Any) -> GenerationRequest:
    """Check the JSON body of a completions (`COMPLETIONS`) or chat (`CHAT`) request."""
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, got {_json_type(body)}")
    _refuse_unknown_fields(kind, body)
    _refuse_unsupported(kind, body)
    stream = _bool(body, "stream", False)
    stream_options = body.get("stream_options")
    include_usage = False
    if stream_options is not None:
        if not stream:
            raise bad_request("stream_options is only allowed with stream: true", "stream_options")
        if not isinstance(stream_options, dict):
            raise bad_request(f"stream_options must be an object, got {_json_type(stream_options)}", "stream_options")
        include_usage = _bool(stream_options, "include_usage", False, param="stream_options.include_usage")
    return GenerationRequest(
        kind=kind,
        model=_optional_str(body, "model"),
        prompt=_prompt(body) if kind == COMPLETIONS else None,
        messages=_messages(body) if kind == CHAT else [],
        max_tokens=_max_tokens(kind, body),
        temperature=_number(body, "temperature", 1.0, low=0.0, high=2.0),
        top_p=_number(body, "top_p", 1.0, low=0.0, high=1.0, low_open=True),
        top_k=_top_k(body),
        seed=_int(body, "seed"),
        stop=_stop(body),
        ignore_eos=_bool(body, "ignore_eos", False),
        stream=stream,
        include_usage=include_usage,
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _refuse_unknown_fields(kind: str, body: dict[str, Any]) -> None:
    known = _FIELDS[kind]
    for name in body:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise bad_request(f"unrecognized request argument {name!r}{hint}", str(name))


def _refuse_unsupported(kind: str, body: dict[str, Any]) -> None:
    """Fields this server knows but does not implement: only their neutral value is accepted."""
    n = body.get("n", 1)
    if n is not None and (not _is_int(n) or n != 1):
        raise bad_request(f"n must be 1 (this server returns one choice per request), got {n!r}", "n")
    best_of = body.get("best_of")
    if best_of is not None and (not _is_int(best_of) or best_of != 1):
        raise bad_request(f"best_of must be 1, got {best_of!r}", "best_of")
    for name in ("presence_penalty", "frequency_penalty"):
        value = body.get(name)
        if value is not None and (not _is_number(value) or value != 0):
            raise bad_request(f"{name} is not supported: it must be 0 or left out, got {value!r}", name)
    for name in ("logprobs", "top_logprobs", "echo", "suffix", "logit_bias", "tools", "functions", "function_call"):
        value = body.get(name)
        if value not in (None, False, 0, "", {}, []):
            raise bad_request(f"{name} is not supported by this server: leave it out", name)
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise bad_request("response_format is not supported: only {'type': 'text'}", "response_format")
    if body.get("tool_choice") not in (None, "none"):
        raise bad_request("tool_choice is not supported: leave it out or use 'none'", "tool_choice")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bool(body: dict[str, Any], name: str, default: bool, *, param: Optional[str] = None) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{param or name} must be true or false, got {_json_type(value)}", param or name)
    return value


def _optional_str(body: dict[str, Any], name: str) -> Optional[str]:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{name} must be a string, got {_json_type(value)}", name)
    return value


def _int(body: dict[str, Any], name: str) -> Optional[int]:
    value = body.get(name)
    if value is not None and not _is_int(value):
        raise bad_request(f"{name} must be an integer, got {value!r}", name)
    return value


def _number(
    body: dict[str, Any], name: str, default: float, *, low: float, high: float, low_open: bool = False
) -> float:
    value = body.get(name)
    if value is None:
        return default
    if not _is_number(value) or not math.isfinite(value):
        raise bad_request(f"{name} must be a number, got {value!r}", name)
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise bad_request(f"{name} must be in {interval}, got {value!r}", name)
    return float(value)


def _max_tokens(kind: str, body: dict[str, Any]) -> Optional[int]:
    name = "max_tokens"
    value = body.get(name)
    if kind == CHAT and body.get("max_completion_tokens") is not None:
        name, value = "max_completion_tokens", body["max_completion_tokens"]
    if value is None:
        return None
    if not _is_int(value) or value < 1:
        raise bad_request(f"{name} must be an integer >= 1, got {value!r}", name)
    return value


def _top_k(body: dict[str, Any]) -> Optional[int]:
    value = body.get("top_k")
    if value is None or value == -1:  # -1: no limit, as vLLM spells it
        return None
    if not _is_int(value) or value < 0:
        raise bad_request(f"top_k must be an integer >= 0 (0 or -1: no limit), got {value!r}", "top_k")
    return value or None


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        raise bad_request("stop must be a non-empty string or an array of non-empty strings", "stop")
    if len(items) > MAX_STOP_STRINGS:
        raise bad_request(f"stop takes at most {MAX_STOP_STRINGS} strings, got {len(items)}", "stop")
    return tuple(items)


def _prompt(body: dict[str, Any]) -> Prompt:
    if "prompt" not in body or body["prompt"] is None:
        raise bad_request("prompt is required", "prompt")
    value = body["prompt"]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], (str, list)):
        value = value[0]  # a batch of one prompt
    if isinstance(value, str):
        if not value:
            raise bad_request("prompt is empty", "prompt")
        return value
    if isinstance(value, list) and value and all(_is_int(token) for token in value):
        if any(token < 0 for token in value):
            raise bad_request("prompt token ids must be >= 0", "prompt")
        return list(value)
    if isinstance(value, list) and len(value) > 1:
        raise bad_request(
            f"prompt must be one prompt (this server answers one per request), got {len(value)}", "prompt"
        )
    raise bad_request("prompt must be a non-empty string or an array of token ids", "prompt")


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    value = body.get("messages")
    if value is None:
        raise bad_request("messages is required", "messages")
    if not isinstance(value, list) or not value:
        raise bad_request("messages must be a non-empty array of {role, content} objects", "messages")
    messages = []
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad_request(f"{where} must be an object with role and content, got {_json_type(message)}", where)
        role = message.get("role")
        if role not in CHAT_ROLES:
            raise bad_request(f"{where}.role must be one of {', '.join(CHAT_ROLES)}, got {role!r}", f"{where}.role")
        messages.append({"role": role, "content": _content(message.get("content"), f"{where}.content")})
    return messages


def _content(value: Any, where: str) -> str:
    """A message's text: a string, or an array of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for index, part in enumerate(value):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad_request(f"{where}[{index}] must be a text part {{'type': 'text', 'text': ...}}", where)
            parts.append(part["text"])
        return "".join(parts)
    raise bad_request(f"{where} must be a string or an array of text parts, got {_json_type(value)}", where)
