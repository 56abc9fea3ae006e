"""``autodeploy run`` end to end in a subprocess, on small real checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
from autodeploy_run_support import remove_session_cache, run_autodeploy, save_tiny_llama, session_cache_dir
from transformers import AutoModelForCausalLM, AutoTokenizer


@pytest.fixture(scope="session")
def autodeploy_cache_dir(tmp_path_factory):
    cache = session_cache_dir(tmp_path_factory)
    yield cache
    remove_session_cache(cache)


PROMPT_IDS = [5, 17, 42, 99, 3]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny_ckpt"))


def hf_greedy_ids(folder, ids, max_new_tokens):
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    input_ids = torch.tensor([ids])
    output = model.generate(
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        min_new_tokens=max_new_tokens,
        do_sample=False,
        use_cache=False,
    )
    return output[0, len(ids) :].tolist()


def read_report(path):
    return json.loads(path.read_text())


@pytest.mark.slow
def test_checkpoint_folder_through_the_graph_pipeline_generates_like_hf(
    autodeploy_cache_dir, tiny_checkpoint, tmp_path
):
    report_path = tmp_path / "out" / "report.json"
    result = run_autodeploy(
        "--model", str(tiny_checkpoint), "--input-ids", ",".join(map(str, PROMPT_IDS)),
        "--max-new-tokens", "6", "--check", "--report-json", str(report_path),
        cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = hf_greedy_ids(tiny_checkpoint, PROMPT_IDS, 6)
    assert f"generated ids: {','.join(map(str, expected))}" in result.stdout
    assert "check: max |optimized - eager| logits difference" in result.stdout and ": ok" in result.stdout

    # the per-transform table: header, then one row per transform in stage order
    assert "stage" in result.stdout and "matches" in result.stdout
    for key in ("build_model", "export_to_gm", "load_weights"):
        assert key in result.stdout

    report = read_report(report_path)
    assert report["ok"] is True
    assert report["mode"] == "graph"
    assert report["model"] == {
        "requested": str(tiny_checkpoint),
        "path": str(tiny_checkpoint),
        "resolved_by_plugin": False,
    }
    assert report["prompt"] == {"text": None, "how": "--input-ids", "input_ids": PROMPT_IDS}
    assert report["generation"]["new_ids"] == expected
    assert report["generation"]["text"] is None
    assert report["check"]["passed"] is True and report["check"]["tolerance"] == 1e-3
    assert report["check"]["max_abs_diff"] <= 1e-4
    keys = [record["key"] for record in report["transforms"]]
    assert keys[0] == "build_model" and "export_to_gm" in keys and "load_weights" in keys
    # everything ran, except what the graph preset ships disabled (opt-in transforms) and the
    # sharding stage, which has nothing to do on one rank
    statuses = {record["key"]: record["status"] for record in report["transforms"]}
    assert {key for key, status in statuses.items() if status == "disabled"} == {
        "gather_logits_before_lm_head",
        "quantize_int8_linear",
        "quantize_int4_linear",
        "quantize_gguf_linear_from_config",
    }
    assert {key for key, status in statuses.items() if status not in ("applied", "disabled")} == {
        "detect_sharding",
        "sharding_transform_executor",
    }
    assert statuses["detect_sharding"] == statuses["sharding_transform_executor"] == "skipped"
    for name in ("resolve_model_s", "pipeline_s", "generate_s", "check_s", "total_s"):
        assert report["timings"][name] >= 0


@pytest.mark.slow
def test_set_overrides_reach_the_transforms(autodeploy_cache_dir, tiny_checkpoint, tmp_path):
    report_path = tmp_path / "report.json"
    result = run_autodeploy(
        "--model", str(tiny_checkpoint), "--input-ids", "1,2,3", "--max-new-tokens", "2",
        "--set", "transforms.compile_model.backend=torch-simple",
        "--set", "transforms.cleanup_noop_add.enabled=false",
        "--report-json", str(report_path), cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    statuses = {record["key"]: record["status"] for record in read_report(report_path)["transforms"]}
    assert statuses["cleanup_noop_add"] == "disabled"
    assert statuses["compile_model"] == "applied"

    refused = run_autodeploy(
        "--model", str(tiny_checkpoint), "--input-ids", "1,2,3",
        "--set", "transforms.compile_model.backend=warp-drive", cache_dir=autodeploy_cache_dir, cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "compile_model" in refused.stderr and "warp-drive" in refused.stderr and "torch-simple" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_config_file_chooses_the_mode(autodeploy_cache_dir, tiny_checkpoint, tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text("mode: transformers\n")
    report_path = tmp_path / "report.json"
    args = ("--model", str(tiny_checkpoint), "--input-ids", "1,2,3", "--max-new-tokens", "3")
    result = run_autodeploy(
        *args, "--config", str(config), "--report-json", str(report_path), cache_dir=autodeploy_cache_dir, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = read_report(report_path)
    assert report["mode"] == "transformers"
    assert [record["key"] for record in report["transforms"]][0] == "build_and_load_factory_model"
    assert report["generation"]["new_ids"] == hf_greedy_ids(tiny_checkpoint, [1, 2, 3], 3)


@pytest.mark.slow
def test_tiny_random_goes_through_the_chat_template_or_raw_text(autodeploy_cache_dir, tmp_path):
    chat_report, raw_report = tmp_path / "chat.json", tmp_path / "raw.json"
    common = ("--model", "tiny-random", "--mode", "transformers", "--prompt", "hi there", "--max-new-tokens", "3")
    chat = run_autodeploy(*common, "--report-json", str(chat_report), cache_dir=autodeploy_cache_dir, cwd=tmp_path)
    raw = run_autodeploy(
        *common, "--raw-prompt", "--report-json", str(raw_report), cache_dir=autodeploy_cache_dir, cwd=tmp_path
    )
    assert chat.returncode == 0, chat.stderr
    assert raw.returncode == 0, raw.stderr

    folder = read_report(chat_report)["model"]["path"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    framed = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi there"}], add_generation_prompt=True, tokenize=False
    )
    chat_prompt, raw_prompt = read_report(chat_report)["prompt"], read_report(raw_report)["prompt"]
    assert chat_prompt["how"] == "chat template"
    assert chat_prompt["input_ids"] == tokenizer(framed, add_special_tokens=False)["input_ids"]
    assert raw_prompt["how"] == "raw text"
    assert raw_prompt["input_ids"] == tokenizer("hi there")["input_ids"]
    assert "prompt (chat template, " in chat.stdout and "prompt (raw text, " in raw.stdout

    generation = read_report(chat_report)["generation"]
    assert generation["text"] == tokenizer.decode(generation["new_ids"], skip_special_tokens=True)
