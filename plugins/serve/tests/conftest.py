"""Fixtures of the serve tests: one server shared by the whole session.

The tiny random Llama (``--model tiny-random``: random weights, a real byte-level tokenizer with
a chat template) is prepared in the session's model cache, the same folder the other tests use.
Tests that end a server start their own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_test_support import API_KEY, MAX_BATCH_SIZE, MAX_QUEUE, TINY, ServerProcess, session_cache, start_server


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = session_cache(tmp_path_factory)
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_server(model_cache: Path) -> Iterator[ServerProcess]:
    """The shared server: the tiny model in graph mode, an API key, 8 batch slots and 24 waiting."""
    args = [
        "--model", TINY, "--api-key", API_KEY, "--max-queue", str(MAX_QUEUE),
        "--set", f"max_batch_size={MAX_BATCH_SIZE}",
    ]  # fmt: skip
    server = start_server(args, model_cache)
    yield server
    assert server.stop() == 0, server.output


@pytest.fixture(scope="session")
def base_url(tiny_server: ServerProcess) -> str:
    return tiny_server.url


@pytest.fixture(scope="session")
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}
