"""Damaged checkpoint folders through whole pipelines (graph and transformers modes, the installed
first-party plugins): each fails with a clear error naming the file, and every run, failed or not,
leaves the folder byte-for-byte as it was (hashed before and after)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from reliability_cases_checkpoints import CASES, CLI_CASE, SHARDED, CheckpointCase
from reliability_support import CliCall, assert_clean_failure, clean_env, fingerprint, run_cli, save_tiny_llama

from autodeploy import CheckpointError, InferenceOptimizer, PluginHost, TransformError
from autodeploy.optimizer import build_factory, build_pipeline_config, build_sequence_interface

MODES = ("graph", "transformers")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_environment(environ={})


@pytest.fixture(scope="module")
def tiny_sharded_dir(tmp_path_factory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("reliability_sharded") / "tiny-llama", max_shard_size="6KB")


def damaged_copy(case: CheckpointCase, pristine: dict[str, Path], tmp_path: Path) -> tuple[Path, Path]:
    folder, scratch = tmp_path / "checkpoint", tmp_path / "scratch"
    shutil.copytree(pristine[case.layout], folder)
    scratch.mkdir()
    case.damage(folder, scratch)
    return folder, scratch


def run_pipeline(host: PluginHost, folder: Path, mode: str):
    config = build_pipeline_config(host, data={"mode": mode, "model": str(folder), "max_seq_len": 16})
    optimizer = InferenceOptimizer(build_factory(host, config), config, host=host)
    return optimizer.run(build_sequence_interface(config))


def case_mode_params() -> list:
    result = []
    for case in CASES:
        for mode in MODES:
            marks = [pytest.mark.xfail(strict=True, reason=case.gaps[mode])] if mode in case.gaps else []
            result.append(pytest.param(case, mode, id=f"{case.id}-{mode}", marks=marks))
    return result


@pytest.fixture(scope="module")
def pristine(tiny_llama_dir, tiny_sharded_dir) -> dict[str, Path]:
    return {"single": tiny_llama_dir, SHARDED: tiny_sharded_dir}


@pytest.mark.parametrize(("case", "mode"), case_mode_params())
def test_a_damaged_checkpoint_fails_clearly_and_is_left_as_it_was(host, pristine, tmp_path, case, mode):
    folder, scratch = damaged_copy(case, pristine, tmp_path)
    before = fingerprint(folder)
    with warnings.catch_warnings(record=True) as passed_on, pytest.raises(TransformError) as info:
        warnings.simplefilter("always")
        run_pipeline(host, folder, mode)
    after = fingerprint(folder)

    error = info.value
    key, stage = case.fails_in[mode]
    assert (error.key, error.stage) == (key, stage), str(error)
    message = str(error)
    assert message.startswith(f"transform '{key}' (stage {stage}) failed: CheckpointError: "), message
    assert str(folder / case.file) in message, message
    assert case.problem in message, message
    assert isinstance(error.__cause__, CheckpointError)
    assert error.report.records[-1].status.value == "failed"
    assert after == before, "the run changed the checkpoint folder"
    if case.marker:
        assert not (scratch / case.marker).exists(), "code from the checkpoint ran"
    assert not [fragment for fragment in case.absent if fragment in message], message
    if case.quiet:
        assert [str(warning.message) for warning in passed_on if warning.category is UserWarning] == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_successful_run_leaves_the_checkpoint_as_it_was(host, pristine, tmp_path, mode):
    folder = tmp_path / "checkpoint"
    shutil.copytree(pristine[SHARDED], folder)
    before = fingerprint(folder)
    result = run_pipeline(host, folder, mode)
    # "disabled": opt-in transforms the preset ships switched off (gather_logits_before_lm_head)
    assert all(record.status.value in ("applied", "skipped", "disabled") for record in result.report.records)
    assert fingerprint(folder) == before


@pytest.mark.slow
def test_cli_run_of_a_damaged_checkpoint(pristine, cli_cwd, tmp_path):
    case = CLI_CASE
    folder, _ = damaged_copy(case, pristine, tmp_path)
    before = fingerprint(folder)
    result = run_cli(
        CliCall(("run", "--model", str(folder), "--input-ids", "1,2,3", "--max-new-tokens", "1"), clean_env(), cli_cwd)
    )
    assert_clean_failure(
        result,
        f"error: transform 'build_model' (stage factory) failed: CheckpointError: {folder / case.file}: {case.problem}",
    )
    assert fingerprint(folder) == before
