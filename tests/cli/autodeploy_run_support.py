"""Helpers of the ``autodeploy run`` tests: a subprocess runner seeing every installed plugin, a
shared model cache, and small real checkpoints.

The cache lives in the session's base temp folder under a fixed name, so the default model is
converted once per test session, whichever test module (here or in the default-model plugin's
tests) asks first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from autodeploy_test_support import environment_without_autodeploy_vars

SESSION_CACHE_NAME = "autodeploy-cache"


def clean_environment(cache_dir: Path) -> dict[str, str]:
    """This environment without the user's AUTODEPLOY_* settings, with the test cache."""
    env = environment_without_autodeploy_vars()
    env["AUTODEPLOY_CACHE_DIR"] = str(cache_dir)
    return env


def run_autodeploy(*args: str, cache_dir: Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m autodeploy run ARGS`` with every installed plugin, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "autodeploy", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_environment(cache_dir),
        cwd=cwd,
    )


def session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model cache: the same folder for every test module that asks for it."""
    return tmp_path_factory.getbasetemp() / SESSION_CACHE_NAME


def remove_session_cache(cache: Path) -> None:
    """Delete the session cache (a converted default model is ~0.5 GB) when the session ends."""
    shutil.rmtree(cache, ignore_errors=True)


def save_tiny_llama(folder: Path, *, seed: int = 0, **overrides) -> Path:
    """A tiny random Llama checkpoint (weights and config, no tokenizer) saved to `folder`."""
    from autodeploy.testing import write_tiny_hf_checkpoint

    settings: dict[str, Any] = dict(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        max_position_embeddings=128,
        initializer_range=0.5,
        eos_token_id=None,
        bos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=False,
    )
    return write_tiny_hf_checkpoint(folder, seed=seed, **{**settings, **overrides})
