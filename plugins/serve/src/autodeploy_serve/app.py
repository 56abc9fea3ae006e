"""The HTTP routes (FastAPI): OpenAI's /v1 endpoints, /health and /metrics.

Bodies are read as raw JSON and checked by `protocol` (not by FastAPI's models) so that every
refusal has OpenAI's error body and names the field. A client that disconnects, mid-stream or
while waiting for a whole answer, is noticed by a watcher on the connection and its request is
aborted at once, freeing its batch slot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .engine_loop import DISCONNECTED, Disconnected, EngineFailure, RequestStream
from .errors import NOT_FOUND, SERVER_ERROR, ApiError, bad_request
from .protocol import CHAT, COMPLETIONS, parse_request
from .responses import DONE, sse
from .service import Service, StartedRequest

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def create_app(service: Service) -> FastAPI:
    """The application serving `service` (whose engine loop the caller starts and stops)."""
    app = FastAPI(title="autodeploy serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        if request.url.path.startswith("/v1/") and 400 <= exc.status < 500 and exc.status != 401:
            service.metrics.count("rejected")
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = NOT_FOUND if exc.status_code == 404 else "invalid_request_error"
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return JSONResponse(ApiError(exc.status_code, message, type=kind).body(), status_code=exc.status_code)

    @app.get("/health")
    async def health() -> Response:
        if service.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics")
    async def metrics(format: str = "prometheus") -> Response:  # noqa: A002 - the query parameter's name
        if format == "json":
            return JSONResponse(service.metrics.snapshot())
        return PlainTextResponse(service.metrics.prometheus(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        service.check_api_key(request.headers.get("authorization"))
        return JSONResponse(service.models())

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await _generate(service, request, COMPLETIONS)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await _generate(service, request, CHAT)

    return app


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None


async def _generate(service: Service, request: Request, kind: str) -> Response:
    service.check_api_key(request.headers.get("authorization"))
    parsed = parse_request(kind, await _json_body(request))
    started = service.start(parsed)
    watcher = asyncio.create_task(_watch_disconnect(request, started.stream))
    if parsed.stream:
        events = _events(service, started, parsed.include_usage, watcher)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    try:
        return await _whole_answer(service, started)
    finally:
        watcher.cancel()


async def _watch_disconnect(request: Request, stream: RequestStream) -> None:
    """Wait for the client to go away; then wake the request's reader with `DISCONNECTED`."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            stream.queue.put_nowait(DISCONNECTED)
            return


async def _whole_answer(service: Service, started: StartedRequest) -> Response:
    stream = started.stream
    try:
        while True:
            item = await stream.get()
            if isinstance(item, Disconnected):
                return Response(status_code=499)  # nobody reads it; the request is aborted below
            if isinstance(item, EngineFailure):
                raise ApiError(500, item.message, type=SERVER_ERROR)
            if item.finished:
                return _final(started, item)
    finally:
        service.loop.abort(stream)


def _final(started: StartedRequest, output: Any) -> Response:
    if output.finish_reason == "error":
        raise ApiError(500, f"generation failed: {output.error}", type=SERVER_ERROR)
    body = started.shapes.complete(
        output.text, output.finish_reason, started.stream.num_prompt_tokens, len(output.token_ids)
    )
    return JSONResponse(body)


async def _events(
    service: Service, started: StartedRequest, include_usage: bool, watcher: asyncio.Task[None]
) -> AsyncIterator[str]:
    """The answer as server-sent events: text chunks, the finish reason, [DONE]."""
    stream, shapes = started.stream, started.shapes
    try:
        if shapes.kind == CHAT:
            yield sse(shapes.chunk("", role=True))
        while True:
            item = await stream.get()
            if isinstance(item, Disconnected):
                return
            if isinstance(item, EngineFailure):
                yield sse(ApiError(500, item.message, type=SERVER_ERROR).body())
                yield DONE
                return
            if item.new_text:
                yield sse(shapes.chunk(item.new_text))
            if item.finished:
                if item.finish_reason == "error":
                    yield sse(ApiError(500, f"generation failed: {item.error}", type=SERVER_ERROR).body())
                else:
                    yield sse(shapes.chunk(None if shapes.kind == CHAT else "", item.finish_reason))
                    if include_usage:
                        yield sse(shapes.usage_chunk(stream.num_prompt_tokens, len(item.token_ids)))
                yield DONE
                return
    finally:
        watcher.cancel()
        service.loop.abort(stream)
