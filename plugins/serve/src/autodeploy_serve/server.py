"""Serving until SIGTERM / Ctrl-C, then draining (imports uvicorn: loaded when ``serve`` runs).

On the first SIGTERM or Ctrl-C the server stops accepting connections, answers 503 to new
requests on connections already open, lets running requests finish (up to ``--drain-timeout``),
then stops the engine and returns. A second Ctrl-C quits at once.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, Optional

import uvicorn

from .app import create_app

if TYPE_CHECKING:
    from .options import ServeOptions
    from .service import Service

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DrainingServer(uvicorn.Server):
    """uvicorn's server that marks the service as draining on the first signal, prints where it
    listens once it does, and returns normally after draining (uvicorn would re-raise the signal,
    killing the process after a clean shutdown)."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: Optional[FrameType]) -> None:
        if not self.service.draining:
            say(
                f"shutting down: draining {self.service.loop.in_flight} running request(s) (Ctrl-C again to quit at once)"
            )
        self.service.draining = True
        super().handle_exit(sig, frame)

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            for address in self.addresses():
                say(f"serving {self.service.model_name!r} at {address}")

    def addresses(self) -> list[str]:
        """``http://HOST:PORT`` of every listening socket (the real port when --port 0)."""
        found = []
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                found.append(f"http://{f'[{host}]' if ':' in host else host}:{port}")
        return found


def make_server(service: Service, options: ServeOptions) -> DrainingServer:
    config = uvicorn.Config(
        create_app(service),
        host=options.host,
        port=options.port,
        log_config=None,  # the CLI's logging (warnings; -v for more) applies to uvicorn's loggers too
        access_log=False,
        timeout_graceful_shutdown=math.ceil(options.drain_timeout),
        lifespan="off",
    )
    return DrainingServer(config, service)


def serve(service: Service, options: ServeOptions) -> int:
    """Run the HTTP server in this thread until a signal, then drain and stop the engine."""
    server = make_server(service, options)
    service.loop.start()
    try:
        server.run()
    finally:
        service.loop.stop()
    say("stopped")
    return 0 if server.started else 1


def say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
