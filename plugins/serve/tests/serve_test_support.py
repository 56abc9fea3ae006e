"""Support of the serve tests: ``python -m autodeploy serve`` as a real subprocess on a free port.

(A uniquely named module on the tests' import path; the fixtures are in conftest.py.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

API_KEY = "sk-test-key"
TINY = "tiny-random"
MAX_BATCH_SIZE = 8
MAX_QUEUE = 24  # 8 running + 24 waiting: exactly the 32 clients of the load test
START_TIMEOUT_S = 300
_SERVING = re.compile(r"^serving '.*' at (http://\S+)$")


@dataclass
class ServerProcess:
    """A running ``autodeploy serve``: its URL, process and everything it printed so far."""

    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 60) -> int:
        """The exit status, once the process ended and all it printed was read."""
        status = self.process.wait(timeout)
        if self.reader is not None:
            self.reader.join(timeout)
        return status


def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the folder tests/cli/autodeploy_run_support.py and the default-model tests use
    return tmp_path_factory.getbasetemp() / "autodeploy-cache"


def server_environment(cache: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTODEPLOY_")}
    env["AUTODEPLOY_CACHE_DIR"] = str(cache)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(args: Sequence[str], cache: Path, *, timeout: float = START_TIMEOUT_S) -> ServerProcess:
    """Start ``python -m autodeploy serve ARGS --port 0`` and wait until it says where it listens."""
    command = [sys.executable, "-m", "autodeploy", "serve", "--port", "0", *args]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=server_environment(cache),
    )
    server = ServerProcess(process)
    ready = threading.Event()

    def read() -> None:  # keeps the pipe drained for the server's whole life
        assert process.stdout is not None
        for line in process.stdout:
            server.lines.append(line.rstrip("\n"))
            match = _SERVING.match(line.strip())
            if match and not server.url:
                server.url = match.group(1)
                ready.set()
        ready.set()

    server.reader = threading.Thread(target=read, daemon=True)
    server.reader.start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.2):
        if time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise AssertionError(f"the server did not start within {timeout} s:\n{server.output}")
    if not server.url:
        process.wait(30)
        raise AssertionError(f"the server exited with {process.returncode} before serving:\n{server.output}")
    return server
