"""The served model: from a checked request to token ids, sampling parameters and a running request.

Prompts are framed exactly as ``python -m autodeploy run`` frames them, so the same greedy
request gives the same answer through the server: a chat request goes through the tokenizer's
chat template (``add_generation_prompt=True``; the template writes the special tokens, so the
text is encoded without adding more), a completions prompt is encoded as raw text.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from .engine_loop import EngineLoop, QueueFull, RequestStream
from .errors import AUTHENTICATION, NOT_FOUND, RATE_LIMIT, UNAVAILABLE, ApiError, bad_request
from .metrics import ServerMetrics
from .protocol import CHAT, COMPLETIONS, GenerationRequest
from .responses import ResponseShapes

if TYPE_CHECKING:
    from autodeploy.runtime import LLM, Engine, SamplingParams

COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


@dataclass(frozen=True)
class StartedRequest:
    """A request the engine accepted: its output stream and the shapes of its response."""

    stream: RequestStream
    shapes: ResponseShapes


class Service:
    """One model behind the HTTP API: the engine loop, the tokenizer, the limits and the metrics."""

    def __init__(
        self,
        engine: Engine,
        tokenizer: Any,
        *,
        model_name: str,
        max_batch_size: int,
        max_seq_len: int,
        max_queue: int,
        api_key: Optional[str] = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.max_seq_len = max_seq_len
        self.api_key = api_key
        self.created = int(time.time())
        self.metrics = ServerMetrics(max_batch_size, max_queue)
        self.loop = EngineLoop(engine, self.metrics, max_batch_size=max_batch_size, max_queue=max_queue)
        self.draining = False

    @classmethod
    def from_llm(cls, llm: LLM, *, model_name: str, max_queue: int, api_key: Optional[str] = None) -> Service:
        return cls(
            llm.engine,
            llm.tokenizer,
            model_name=model_name,
            max_batch_size=llm.cm.max_batch_size,
            max_seq_len=llm.cm.max_seq_len,
            max_queue=max_queue,
            api_key=api_key,
        )

    # -- checks ---------------------------------------------------------------------------------

    def check_api_key(self, authorization: Optional[str]) -> None:
        """401 unless ``Authorization: Bearer <key>`` matches (when the server has a key)."""
        if self.api_key is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.api_key.encode()):
            message = "missing API key" if not authorization else "incorrect API key provided"
            raise ApiError(
                401,
                f"{message}: send the server's key as 'Authorization: Bearer KEY'",
                type=AUTHENTICATION,
                code="invalid_api_key",
            )

    def check_model(self, name: Optional[str]) -> None:
        if name is not None and name != self.model_name:
            raise ApiError(
                404,
                f"the model {name!r} does not exist; this server serves {self.model_name!r} (GET /v1/models)",
                type=NOT_FOUND,
                param="model",
                code="model_not_found",
            )

    # -- requests -------------------------------------------------------------------------------

    def encode(self, request: GenerationRequest) -> list[int]:
        """The prompt's token ids: chat turns through the chat template, text as it is, ids as given."""
        if request.kind == COMPLETIONS and isinstance(request.prompt, list):
            return request.prompt
        param = "messages" if request.kind == CHAT else "prompt"
        if self.tokenizer is None:
            raise bad_request("this model has no tokenizer: send the prompt as token ids", param)
        if request.kind == CHAT:
            if not getattr(self.tokenizer, "chat_template", None):
                raise bad_request("this model's tokenizer has no chat template: use /v1/completions", param)
            try:
                text = self.tokenizer.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False)
            except Exception as exc:  # noqa: BLE001 - templates raise on turns they do not accept
                raise bad_request(f"the chat template refused these messages: {exc}", param) from None
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = self.tokenizer(request.prompt)["input_ids"]
        ids = [int(token) for token in ids]
        if not ids:
            raise bad_request("the prompt is empty after tokenization", param)
        return ids

    def sampling_params(self, request: GenerationRequest, prompt_len: int) -> SamplingParams:
        """The engine's parameters, with max_tokens checked against the context length."""
        from autodeploy.runtime import SamplingParams, SamplingParamsError

        param = "messages" if request.kind == CHAT else "prompt"
        room = self.max_seq_len - prompt_len
        if room < 1:
            raise bad_request(
                f"this model's maximum context length is {self.max_seq_len} tokens, and the prompt has "
                f"{prompt_len}: no room for an answer; shorten the prompt",
                param,
                CONTEXT_LENGTH_EXCEEDED,
            )
        max_tokens = request.max_tokens
        if max_tokens is None:
            max_tokens = min(COMPLETIONS_DEFAULT_MAX_TOKENS, room) if request.kind == COMPLETIONS else room
        elif max_tokens > room:
            raise bad_request(
                f"this model's maximum context length is {self.max_seq_len} tokens: the prompt has {prompt_len} "
                f"and max_tokens asks for {max_tokens} more; lower max_tokens to at most {room}",
                "max_tokens",
                CONTEXT_LENGTH_EXCEEDED,
            )
        try:
            return SamplingParams(
                max_tokens=max_tokens,
                temperature=request.temperature,
                top_p=request.top_p,
                top_k=request.top_k,
                seed=request.seed,
                stop=request.stop,
                ignore_eos=request.ignore_eos,
            )
        except SamplingParamsError as exc:
            raise bad_request(str(exc)) from None

    def start(self, request: GenerationRequest) -> StartedRequest:
        """Check, encode and queue `request` (call on the event loop)."""
        from autodeploy.runtime import RequestError

        if self.draining:
            raise ApiError(503, "the server is shutting down", type=UNAVAILABLE, code="shutting_down")
        self.check_model(request.model)
        ids = self.encode(request)
        params = self.sampling_params(request, len(ids))
        try:
            stream = self.loop.submit(ids, params, asyncio.get_running_loop())
        except QueueFull as exc:
            raise ApiError(
                429,
                f"the server is at capacity: {exc}; retry later",
                type=RATE_LIMIT,
                code="queue_full",
            ) from None
        except RequestError as exc:
            raise bad_request(str(exc), "messages" if request.kind == CHAT else "prompt") from None
        self.metrics.count("received", prompt_tokens=len(ids))
        prefix = "chatcmpl" if request.kind == CHAT else "cmpl"
        shapes = ResponseShapes(request.kind, f"{prefix}-{uuid.uuid4().hex}", int(time.time()), self.model_name)
        return StartedRequest(stream, shapes)

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": self.model_name, "object": "model", "created": self.created, "owned_by": "autodeploy"}],
        }
