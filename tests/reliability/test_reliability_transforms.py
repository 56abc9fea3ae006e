"""Transforms that fail while a pipeline runs: the report says which, where and why; lifecycle hooks
see the error; ``skip_on_error`` goes on and marks the skip. Transforms come from the installed
failing test distribution; the pipeline runs through the real `InferenceOptimizer`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from reliability_bad_input import params
from reliability_cases_transforms import CASES, FAILING, TransformCase
from reliability_support import (
    OBSERVER_LOG_VARIABLE,
    OBSERVER_RAISE_VARIABLE,
    CliCall,
    assert_clean_failure,
    clean_env,
    run_cli,
)

from autodeploy import (
    CachedSequenceInterface,
    InferenceOptimizer,
    PluginError,
    PluginHost,
    TransformError,
    TransformStatus,
    hookimpl,
)

API_CASES = [case for case in CASES if case.id != "cli-run-report"]
CLI_CASE = next(case for case in CASES if case.id == "cli-run-report")
WITNESS = "mark_done"  # runs last (compile stage): shows whether the pipeline went on


class HookRecorder:
    """An in-process observer: what the lifecycle hooks were called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def autodeploy_transform_error(self, key, stage, error, record, will_continue):
        self.calls.append(
            (
                "transform_error",
                dict(key=key, stage=stage.value, error=error, record=record, will_continue=will_continue),
            )
        )

    @hookimpl
    def autodeploy_after_transform(self, key, stage, record, mod):
        self.calls.append(("after_transform", dict(key=key, status=record.status)))

    def named(self, hook: str) -> list[dict[str, Any]]:
        return [arguments for name, arguments in self.calls if name == hook]


def module_for(case: TransformCase):
    """The pipeline's starting module: empty, or holding a traced (GraphModule) model."""
    import torch

    from autodeploy.optimizer.container import new_pipeline_module

    mod = new_pipeline_module()
    if case.graph:
        mod.factory_model = torch.fx.symbolic_trace(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()))
    return mod


def pipeline_for(case: TransformCase, tmp_path) -> dict[str, Any]:
    entry = {
        key: (value.format(file=tmp_path / "a-file") if isinstance(value, str) else value)
        for key, value in case.entry.items()
    }
    (tmp_path / "a-file").write_text("not a folder")
    return {
        "transforms": {
            case.key: {"stage": case.stage, "skip_on_error": case.skip_on_error, **entry},
            WITNESS: {"stage": "compile", "run_per_gm": False},
        }
    }


@pytest.fixture
def host_and_recorder(reliability_plugins_on_path) -> tuple[PluginHost, HookRecorder]:
    host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": FAILING})
    recorder = HookRecorder()
    host.register(recorder, name="hook-recorder")
    return host, recorder


@pytest.mark.parametrize("case", params(API_CASES))
def test_a_failing_transform_is_reported_with_key_stage_and_why(host_and_recorder, tmp_path, monkeypatch, case):
    host, recorder = host_and_recorder
    if case.observer_raises_in:
        monkeypatch.setenv(OBSERVER_RAISE_VARIABLE, case.observer_raises_in)
    optimizer = InferenceOptimizer(None, pipeline_for(case, tmp_path), host=host)
    cm = CachedSequenceInterface(max_seq_len=8, max_batch_size=2, device="cpu")
    mod = module_for(case)

    if case.observer_raises_in:
        with pytest.raises(PluginError) as info:
            optimizer.run(cm, mod)
        assert case.why in str(info.value)
        assert "observer bug before stage" in str(info.value)
        assert "block that plugin (-p no:NAME" in str(info.value)
        return

    if case.skip_on_error:
        result = optimizer.run(cm, mod)
        (record,) = result.report.by_key(case.key)
        assert record.status is TransformStatus.FAILED and record.skipped_on_error
        assert record.error.endswith(case.why) and record.traceback
        assert f"{case.key}  failed (skipped on error)" in result.report.format_table()
        assert json.loads(result.report.to_json())["transforms"][0]["skipped_on_error"] is True
        assert getattr(result.module, f"reliability_{WITNESS}") is True  # the pipeline went on
        (seen,) = recorder.named("transform_error")
        assert (seen["key"], seen["stage"], seen["will_continue"]) == (case.key, case.stage, True)
        assert case.why.split(": ")[-1] in str(seen["error"])
        assert [call["key"] for call in recorder.named("after_transform")] == [case.key, WITNESS]
        return

    with pytest.raises(TransformError) as info:
        optimizer.run(cm, mod)
    error = info.value
    assert str(error).startswith(f"transform '{case.key}' (stage {case.stage}) failed: {case.why}"), str(error)
    assert (error.key, error.stage) == (case.key, case.stage)
    report = error.report
    assert report is optimizer.last_report
    last = report.records[-1]
    assert (last.key, last.stage.value, last.status) == (case.key, case.stage, TransformStatus.FAILED)
    assert case.why in last.error and not last.skipped_on_error
    assert [record.key for record in report.records if record.key == WITNESS] == []  # stopped there
    assert json.loads(report.to_json())["transforms"][-1]["error"] == last.error
    (seen,) = recorder.named("transform_error")
    assert (seen["key"], seen["stage"], seen["will_continue"]) == (case.key, case.stage, False)
    assert seen["record"] is last
    if case.id == "debug-dump-folder-is-a-file":
        assert (tmp_path / "a-file").read_text() == "not a folder"  # nothing of the user's was touched


@pytest.mark.slow
def test_cli_run_leaves_a_report_naming_the_failed_transform(reliability_sites, cli_cwd, tiny_llama_dir, tmp_path):
    case = CLI_CASE
    report_path, log_path = tmp_path / "report.json", tmp_path / "observer.jsonl"
    env = clean_env(reliability_sites.main)
    args = (
        "run",
        "--model",
        str(tiny_llama_dir),
        "--mode",
        "reliability_fail",
        "--input-ids",
        "1,2",
        "--max-new-tokens",
        "1",
    )
    result = run_cli(
        CliCall(
            (*args, "--report-json", str(report_path)), env, cli_cwd, extra_env={OBSERVER_LOG_VARIABLE: str(log_path)}
        )
    )
    assert_clean_failure(result, f"error: transform '{case.key}' (stage {case.stage}) failed: {case.why}")
    table = [line.split() for line in result.stdout.splitlines() if line.startswith(case.stage)]
    assert [row[:3] for row in table] == [[case.stage, case.key, "failed"]]

    report = json.loads(report_path.read_text())
    assert report["ok"] is False and case.why in report["error"]
    (record,) = report["transforms"]
    assert (record["key"], record["stage"], record["status"]) == (case.key, case.stage, "failed")
    assert record["error"] == case.why and "Traceback" in record["traceback"]

    seen = [json.loads(line) for line in log_path.read_text().splitlines()]
    errors = [event for event in seen if event["hook"] == "transform_error"]
    assert errors == [
        {
            "hook": "transform_error",
            "key": case.key,
            "stage": case.stage,
            "error": case.why,
            "record_status": "failed",
            "will_continue": False,
        }
    ]
