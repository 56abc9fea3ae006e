"""``autodeploy run`` through the runtime: --prompts-file batches, sampling flags reach the
sampler, a refused line leaves the others answered; and the default model answers "Paris"
through `LLM` (the session's model cache, shared with the run tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from autodeploy.runtime import LENGTH, SamplingParams

SESSION_CACHE_NAME = "autodeploy-cache"  # the run tests' session model cache (tests/cli)


def run_cli(*args: str, cwd, cache_dir) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTODEPLOY_")}
    env["AUTODEPLOY_CACHE_DIR"] = str(cache_dir)
    return subprocess.run(
        [sys.executable, "-m", "autodeploy", "run", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=cwd,
    )


def test_prompts_file_with_sampling_flags(graph_llm, tiny_checkpoint, tmp_path):
    lines = ["w5 w17 w3 w9", "w40 w2", " ".join(f"w{i % 100 + 1}" for i in range(70)), "w11 w12 w13"]
    prompts_file = tmp_path / "prompts.txt"
    prompts_file.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n")
    report_path = tmp_path / "report.json"
    flags = ("--max-new-tokens", "6", "--temperature", "0.9", "--top-k", "20", "--seed", "7")
    result = run_cli(
        "--model", str(tiny_checkpoint), "--prompts-file", str(prompts_file), *flags,
        "--set", "max_seq_len=64", "--report-json", str(report_path), cwd=tmp_path, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # one line was refused ...
    assert "Traceback" not in result.stderr
    assert "[2] error: the prompt (70 tokens) plus max_tokens 6 needs 76 positions, more than max_seq_len 64" in (
        result.stderr
    )
    assert "[0] prompt (raw text, 4 tokens): w5 w17 w3 w9" in result.stdout
    assert "generated 18 token(s) for 4 prompts in " in result.stdout  # ... and the other three answered

    report = json.loads(report_path.read_text())
    generations = report["generations"]
    assert [g["finish_reason"] for g in generations] == [LENGTH, LENGTH, "error", LENGTH]
    params = SamplingParams(max_tokens=6, temperature=0.9, top_k=20, seed=7)
    for line, generation in zip(lines, generations, strict=True):
        if generation["error"] is None:
            [expected] = graph_llm.generate([graph_llm.encode(line)], params)
            assert generation["new_ids"] == list(expected.token_ids)
            assert generation["text"] == expected.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--top-p", "2"), "error: --top-p: expected a number in (0, 1], got 2.0"),
        (("--top-k", "-3"), "error: --top-k: expected a whole number >= 1"),
        (("--temperature", "-1"), "--temperature: expected a finite number >= 0"),
        (("--prompts-file", "no-such-file.txt"), "error: --prompts-file: cannot read no-such-file.txt"),
    ],
)
def test_bad_generation_flags_fail_before_any_model_work(tmp_path, args, message):
    result = run_cli("--model", str(tmp_path / "never-read"), *args, cwd=tmp_path, cache_dir=tmp_path / "cache")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert message in result.stderr


@pytest.fixture(scope="session")
def session_model_cache(tmp_path_factory):
    # session scope: removed at the end of the session, not of this module, so the later
    # SmolLM2 tests (default-model, serve, quantization) reuse the converted model
    cache = tmp_path_factory.getbasetemp() / SESSION_CACHE_NAME
    yield cache
    shutil.rmtree(cache, ignore_errors=True)  # ~0.5 GB; the run tests remove it too


@pytest.mark.slow
def test_the_default_model_answers_paris_through_the_runtime(session_model_cache):
    from autodeploy.runtime import LLM

    llm = LLM(mode="graph", cache_dir=session_model_cache, max_seq_len=128, max_batch_size=2)
    [answer] = llm.generate(["What is the capital of France?"], SamplingParams(max_tokens=8), chat=True)
    assert "Paris" in answer.text, answer
    assert answer.finish_reason in ("stop", "length")
