"""One `Engine` shared by every request: its ``step()`` runs in a background thread.

HTTP handlers live on the asyncio event loop; the model runs in the engine thread, so a long
step never blocks accepting or answering requests. A handler `submit`s token ids and reads the
request's outputs from a `RequestStream` (an asyncio queue the engine thread feeds through
``call_soon_threadsafe``). Requests submitted while others run join the running batch at the
next step: that is the continuous batching. `abort` (a client that went away) frees the
request's slot at the engine's next step.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from .errors import UNAVAILABLE, ApiError

if TYPE_CHECKING:
    from autodeploy.runtime import Engine, RequestOutput, SamplingParams

    from .metrics import ServerMetrics

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """Every batch slot is taken and `max_queue` requests already wait."""


@dataclass(frozen=True)
class EngineFailure:
    """The engine's step raised (a bug, not a model error, which the engine reports per request)."""

    message: str


class Disconnected:
    """Put on a stream by the handler's disconnect watcher: the client went away."""


DISCONNECTED = Disconnected()
StreamItem = Union["RequestOutput", EngineFailure, Disconnected]


class RequestStream:
    """One request's outputs, handed from the engine thread to the event loop, and its timings."""

    def __init__(self, request_id: str, num_prompt_tokens: int, loop: asyncio.AbstractEventLoop) -> None:
        self.request_id = request_id
        self.num_prompt_tokens = num_prompt_tokens
        self.loop = loop
        self.queue: asyncio.Queue[StreamItem] = asyncio.Queue()
        self.arrived = time.perf_counter()
        self.first_token_at: Optional[float] = None
        self.last_token_at: Optional[float] = None
        self.num_tokens = 0
        self.finished = False

    async def get(self) -> StreamItem:
        return await self.queue.get()

    def put_threadsafe(self, item: StreamItem) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            pass


class EngineLoop:
    """Runs ``engine.step()`` in a thread while any request is unfinished; sleeps otherwise."""

    def __init__(self, engine: Engine, metrics: ServerMetrics, *, max_batch_size: int, max_queue: int) -> None:
        self.engine = engine
        self.metrics = metrics
        self.capacity = max_batch_size + max_queue
        self._streams: dict[str, RequestStream] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="autodeploy-engine", daemon=True)
        self._ids = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current step (requests still running are aborted first)."""
        with self._lock:
            pending = list(self._streams)
        for request_id in pending:
            self.engine.abort(request_id)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._streams)

    def submit(
        self, prompt_ids: list[int], params: SamplingParams, loop: asyncio.AbstractEventLoop, prefix: str = "req"
    ) -> RequestStream:
        """Queue a request; raises `QueueFull`, or the engine's `RequestError` for a prompt it refuses."""
        if self._stopping:
            raise ApiError(503, "the server is shutting down", type=UNAVAILABLE, code="shutting_down")
        with self._lock:
            if len(self._streams) >= self.capacity:
                raise QueueFull(f"{len(self._streams)} requests are running or waiting (the most is {self.capacity})")
            self._ids += 1
            request_id = f"{prefix}-{self._ids}"
            stream = RequestStream(request_id, len(prompt_ids), loop)
            self._streams[request_id] = stream  # before the engine can answer it
        try:
            self.engine.add_request(prompt_ids, params, request_id=request_id)
        except BaseException:
            with self._lock:
                del self._streams[request_id]
            raise
        self.metrics.set_in_flight(self.in_flight)
        self._wake.set()
        return stream

    def abort(self, stream: RequestStream) -> None:
        """Stop a request whose client left; its slot is freed at the next step."""
        if not stream.finished:
            self.engine.abort(stream.request_id)
            self._wake.set()

    # -- the engine thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            if not self.engine.has_unfinished():
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                outputs = self.engine.step()
            except Exception as exc:  # noqa: BLE001 - keep serving; every request in flight learns why
                log.exception("the engine step failed")
                self._fail_all(f"the engine failed: {type(exc).__name__}: {exc}")
                continue
            self._dispatch(outputs)

    def _dispatch(self, outputs: list[Any]) -> None:
        now = time.perf_counter()
        advanced = 0
        new_tokens = 0
        with self._lock:
            for output in outputs:
                stream = self._streams.get(output.request_id)
                if output.new_token_ids:
                    advanced += 1
                    new_tokens += len(output.new_token_ids)
                if stream is None:
                    continue
                if output.new_token_ids:
                    if stream.first_token_at is None:
                        stream.first_token_at = now
                        self.metrics.latency(ttft=now - stream.arrived)
                    stream.last_token_at = now
                    stream.num_tokens += len(output.new_token_ids)
                if output.finished:
                    stream.finished = True
                    del self._streams[output.request_id]
                    self._count_finished(stream, output.finish_reason)
                stream.put_threadsafe(output)
            in_flight = len(self._streams)
        if advanced:
            self.metrics.step(advanced, new_tokens)
        self.metrics.set_in_flight(in_flight)

    def _count_finished(self, stream: RequestStream, reason: Optional[str]) -> None:
        outcome = {"abort": "aborted", "error": "failed"}.get(reason or "error", "finished")
        self.metrics.count(outcome)
        if stream.first_token_at is not None and stream.last_token_at is not None and stream.num_tokens > 1:
            self.metrics.latency(inter_token=(stream.last_token_at - stream.first_token_at) / (stream.num_tokens - 1))

    def _fail_all(self, message: str) -> None:
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for stream in streams:
            stream.finished = True
            self.engine.abort(stream.request_id)
            self.metrics.count("failed")
            stream.put_threadsafe(EngineFailure(message))
        self.metrics.set_in_flight(0)
