"""Helpers of the reliability suite: the command line in subprocesses (several at a time), real
test distributions installed once, tiny real checkpoints, folder fingerprints, and a real
mid-write failure (the file-size limit) for a child process.

(A uniquely named module imported by the suite's tests; fixtures are in conftest.py.)
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from autodeploy_test_support import copy_distribution, environment_without_autodeploy_vars

SUITE_DIR = Path(__file__).parent
DISTS_DIR = SUITE_DIR / "dists"
REPO_ROOT = SUITE_DIR.parents[1]
CLI_TIMEOUT_S = 300
TRACEBACK = "Traceback (most recent call last)"

# The test distributions this suite adds (tests/reliability/dists), with their versions.
FAILING_DIST = "autodeploy-testplugin-reliability-failing"
ODD_KEYS_DIST = "autodeploy-testplugin-reliability-odd-keys"
TWICE_DIST = "autodeploy-testplugin-reliability-twice"
TWICE_NEW_VERSION = "1.1.0"
TWICE_OLD_VERSION = "1.0.0"
OBSERVER_LOG_VARIABLE = "RELIABILITY_OBSERVER_LOG"
OBSERVER_RAISE_VARIABLE = "RELIABILITY_OBSERVER_RAISE"


# --------------------------------------------------------------------------------------------- CLI


@dataclass(frozen=True)
class CliCall:
    """One ``python -m autodeploy ARGS`` to run; `fsize_limit` makes any write past that many bytes fail."""

    args: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    fsize_limit: Optional[int] = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


def file_size_limit(limit: int) -> Callable[[], None]:
    """A `preexec_fn` making every write past `limit` bytes fail with EFBIG in the child, for real
    (RLIMIT_FSIZE; SIGXFSZ ignored, so the write returns an error instead of killing the process)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_cli(call: CliCall) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autodeploy", *call.args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**call.env, **call.extra_env},
        cwd=call.cwd,
        preexec_fn=file_size_limit(call.fsize_limit) if call.fsize_limit is not None else None,
    )


def run_many(calls: Mapping[Any, CliCall]) -> dict[Any, subprocess.CompletedProcess[str]]:
    """Run independent CLI calls a few at a time (each is a separate process; the machine's cores
    are used instead of waiting for one interpreter start after another)."""
    workers = max(2, min(4, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(run_cli, call) for key, call in calls.items()}
        return {key: future.result() for key, future in futures.items()}


def clean_env(*site_dirs: Path, **extra: str) -> dict[str, str]:
    """This environment without the user's AUTODEPLOY_* settings, with `site_dirs` first on the path."""
    env = environment_without_autodeploy_vars()
    env.pop(OBSERVER_LOG_VARIABLE, None)
    env.pop(OBSERVER_RAISE_VARIABLE, None)
    env["PYTHONPATH"] = os.pathsep.join(
        [*(str(site) for site in site_dirs), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env.update(extra)
    return env


def error_of(result: subprocess.CompletedProcess[str]) -> str:
    """The ``error: ...`` paragraph of a failed command (plugin warnings before it are skipped)."""
    marker = result.stderr.find("error: ")
    assert marker >= 0, f"no error line:\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stderr[marker:]


def assert_clean_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit status 1, no traceback, and an error naming every fragment; returns the error text."""
    assert TRACEBACK not in result.stderr, result.stderr
    assert result.returncode == 1, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    error = error_of(result)
    for fragment in fragments:
        assert fragment in error, f"{fragment!r} not in:\n{error}"
    return error


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


# ------------------------------------------------------------------------------- installing dists


def with_version(source: Path, work_dir: Path, version: str) -> Path:
    """A copy of the distribution `source` whose pyproject.toml declares `version`."""
    copy = copy_distribution(source, work_dir / f"{source.name}-{version}")
    pyproject = copy / "pyproject.toml"
    text, count = re.subn(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
    assert count == 1, pyproject
    pyproject.write_text(text)
    return copy


# ---------------------------------------------------------------------------------- checkpoints


TINY_LLAMA = dict(
    vocab_size=64,
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=32,
    bos_token_id=None,
    eos_token_id=None,
    pad_token_id=None,
)


def save_tiny_llama(folder: Path, max_shard_size: int | str | None = None) -> Path:
    """A tiny random Llama checkpoint written by ``save_pretrained`` (no tokenizer)."""
    from autodeploy.testing import write_tiny_hf_checkpoint

    return write_tiny_hf_checkpoint(folder, max_shard_size=max_shard_size, tie_word_embeddings=False, **TINY_LLAMA)


def fingerprint(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under `folder`, and every folder (as ``<dir>``)."""
    prints = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        prints[relative] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return prints


def leftover_temp_files(folder: Path) -> list[str]:
    """Temporary files `autodeploy.atomic` would leave behind if it failed to clean up."""
    return sorted(path.name for path in folder.rglob(".*.tmp"))
