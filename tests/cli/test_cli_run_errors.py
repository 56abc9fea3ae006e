"""``autodeploy run`` refuses bad input with exit 1 and one clear paragraph, never a traceback."""

from __future__ import annotations

import json
import os

import pytest
from autodeploy_run_support import remove_session_cache, run_autodeploy, save_tiny_llama, session_cache_dir


@pytest.fixture(scope="session")
def autodeploy_cache_dir(tmp_path_factory):
    cache = session_cache_dir(tmp_path_factory)
    yield cache
    remove_session_cache(cache)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny_ckpt"))


def assert_clean_failure(result, *fragments: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]
    return error_lines[0]


def test_bad_set_path_names_the_override(autodeploy_cache_dir, tmp_path):
    result = run_autodeploy(
        "--model", "tiny-random", "--set", "transforms.no_such_transform.enabled=false",
        cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip
    assert_clean_failure(result, "--set transforms.no_such_transform.enabled=false", "no_such_transform")


def test_missing_checkpoint_folder(autodeploy_cache_dir, tmp_path):
    missing = tmp_path / "not-there"
    result = run_autodeploy("--model", str(missing), cache_dir=autodeploy_cache_dir, cwd=tmp_path)
    assert_clean_failure(result, "no checkpoint folder", str(missing))
    assert not missing.exists()


def test_unknown_model_name(autodeploy_cache_dir, tmp_path):
    result = run_autodeploy("--model", "gpt-99-ultra", cache_dir=autodeploy_cache_dir, cwd=tmp_path)
    assert_clean_failure(result, "'gpt-99-ultra'", "tiny-random", "not downloaded")


@pytest.mark.slow
def test_checkpoint_with_a_shape_mismatch_is_refused_reported_and_left_untouched(autodeploy_cache_dir, tmp_path):
    folder = save_tiny_llama(tmp_path / "ckpt")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config["intermediate_size"] = 48  # the saved MLP weights are 64 wide
    config_path.write_text(json.dumps(config))
    before = {name: (folder / name).stat().st_mtime_ns for name in os.listdir(folder)}
    report_path = tmp_path / "report.json"

    result = run_autodeploy(
        "--model", str(folder), "--input-ids", "1,2,3", "--max-new-tokens", "1", "--report-json", str(report_path),
        cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip

    message = assert_clean_failure(result, "mlp")
    assert "shape" in message.lower()
    assert {name: (folder / name).stat().st_mtime_ns for name in os.listdir(folder)} == before
    # the report of the failed run is still written, naming the failure
    report = json.loads(report_path.read_text())
    assert report["ok"] is False and "shape" in report["error"]
    assert report["transforms"][0]["key"] == "build_model"
    assert report["transforms"][0]["status"] == "failed"


@pytest.mark.slow
def test_prompt_without_a_tokenizer_asks_for_ids(autodeploy_cache_dir, tiny_checkpoint, tmp_path):
    result = run_autodeploy("--model", str(tiny_checkpoint), cache_dir=autodeploy_cache_dir, cwd=tmp_path)
    assert_clean_failure(result, "has no tokenizer", "--input-ids")


@pytest.mark.slow
def test_input_ids_outside_the_vocabulary(autodeploy_cache_dir, tiny_checkpoint, tmp_path):
    result = run_autodeploy(
        "--model", str(tiny_checkpoint), "--mode", "transformers", "--input-ids", "1,5000",
        cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip
    assert_clean_failure(result, "--input-ids: token id 5000 is outside the model's vocabulary (vocab_size 128")
    assert "pipeline:" not in result.stdout, "refused only after the pipeline ran"


@pytest.mark.parametrize("ids", ["1,x,3", "1,-2"])
def test_malformed_input_ids(autodeploy_cache_dir, tiny_checkpoint, tmp_path, ids):
    result = run_autodeploy(
        "--model", str(tiny_checkpoint), "--input-ids", ids, cache_dir=autodeploy_cache_dir, cwd=tmp_path
    )
    assert_clean_failure(result, "--input-ids")


@pytest.mark.slow
def test_sequence_longer_than_max_seq_len(autodeploy_cache_dir, tiny_checkpoint, tmp_path):
    result = run_autodeploy(
        "--model", str(tiny_checkpoint), "--input-ids", "1,2,3,4,5,6", "--max-new-tokens", "20",
        "--set", "max_seq_len=16", cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip
    assert_clean_failure(result, "max_seq_len 16", "26")


def test_help_lists_the_options_without_loading_torch(autodeploy_cache_dir, tmp_path):
    result = run_autodeploy("--help", cache_dir=autodeploy_cache_dir, cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--model", "--mode", "--config", "--set", "--prompt", "--input-ids", "--raw-prompt",
                   "--max-new-tokens", "--check", "--check-tol", "--report-json"):  # fmt: skip
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--check-tol", "0"], "--check-tol: expected a finite number > 0"),
        (["--max-new-tokens", "-1"], "--max-new-tokens: expected a number >= 0"),
        (["--prompt", "hi", "--input-ids", "1"], "not allowed with argument"),
    ],
)
def test_bad_option_values_are_usage_errors(autodeploy_cache_dir, tmp_path, args, message):
    result = run_autodeploy(*args, cache_dir=autodeploy_cache_dir, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
