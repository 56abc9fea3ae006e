"""SIGTERM drains: a running stream finishes whole, new connections are refused, the exit is clean.

Its own server (ending it is the point), in transformers mode, with no API key and the key-less
defaults: the other server covers graph mode.
"""

from __future__ import annotations

import json
import signal

import httpx
import pytest
from serve_test_support import TINY, start_server

MAX_TOKENS = 40


@pytest.mark.slow
def test_sigterm_drains_running_requests_then_exits(model_cache):
    server = start_server(["--model", TINY, "--mode", "transformers"], model_cache)
    try:
        body = {"model": TINY, "prompt": "Once upon a time", "max_tokens": MAX_TOKENS, "temperature": 0,
                "stream": True, "stream_options": {"include_usage": True}, "ignore_eos": True}  # fmt: skip
        chunks = []
        with httpx.stream("POST", f"{server.url}/v1/completions", json=body, timeout=120) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                if not chunks:
                    server.process.send_signal(signal.SIGTERM)  # mid-stream
                chunks.append(line[len("data: ") :])
        assert chunks[-1] == "[DONE]"
        events = [json.loads(chunk) for chunk in chunks[:-1]]
        assert events[-2]["choices"][0]["finish_reason"] == "length"
        assert events[-1]["usage"]["completion_tokens"] == MAX_TOKENS  # all came, nothing cut off
        assert server.wait(60) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/health", timeout=5)
        assert "shutting down: draining 1 running request(s)" in server.output
        assert server.output.splitlines()[-1] == "stopped"
    finally:
        server.stop(signal.SIGKILL)
