"""Broken pipeline configs: ``autodeploy validate`` (real subprocesses, run as one batch) and the
Python API refuse each with a `ConfigError` naming where and what, never with a traceback."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_bad_input import params
from reliability_cases_configs import CASES, DIRECTORY, LARGE_FILE, MISSING, ConfigCase
from reliability_support import CliCall, assert_clean_failure, run_many

from autodeploy import ConfigError, InferenceOptimizer, PluginHost
from autodeploy.optimizer import MAX_CONFIG_BYTES, build_pipeline_config, validate_transforms
from autodeploy.optimizer.pipeline_inputs import factory_class_of


@dataclass(frozen=True)
class Prepared:
    path: Path
    marker: Path | None


def prepare(case: ConfigCase, folder: Path) -> Prepared:
    """Write the case's config file into its own folder (so a marker file would show up there)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.yaml"
    marker = folder / case.marker if case.marker else None
    if case.special == LARGE_FILE:
        with path.open("wb") as handle:  # sparse: the size is there, the bytes are not written
            handle.truncate(MAX_CONFIG_BYTES + 500_000)
    elif case.special == DIRECTORY:
        path.mkdir()
    elif case.special == MISSING:
        pass
    elif case.flow_list_bytes:
        path.write_text("x: [" + ",".join(["0"] * (case.flow_list_bytes // 2 - 2)) + "]\n", encoding="utf-8")
    elif isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_text(case.content.replace("{marker}", str(marker)), encoding="utf-8")
    return Prepared(path, marker)


def expected(case: ConfigCase, path: Path) -> tuple[str, list[str]]:
    return case.error.format(file=path), [fragment.format(file=path) for fragment in case.also]


def assert_no_false_diagnosis(case: ConfigCase, message: str) -> None:
    wrong = [fragment for fragment in case.absent if fragment in message]
    assert not wrong, f"{wrong} in: {message}"


@pytest.fixture(scope="module")
def config_runs(first_party_env, cli_cwd, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("config_cases")
    calls, prepared = {}, {}
    for case in CASES:
        prepared[case.id] = prepare(case, root / case.id)
        args = ["validate", str(prepared[case.id].path)]
        for override in case.sets:
            args += ["--set", override]
        calls[case.id] = CliCall(tuple(args), first_party_env, cli_cwd)
    results = run_many(calls)
    return {case_id: (prepared[case_id], results[case_id]) for case_id in results}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_environment(environ={})  # the installed first-party plugins


@pytest.mark.slow  # one batch of subprocesses for the whole module
@pytest.mark.parametrize("case", params(CASES))
def test_validate_command_refuses_it_naming_where_and_what(config_runs, case: ConfigCase):
    prepared, result = config_runs[case.id]
    start, fragments = expected(case, prepared.path)
    assert result.stdout == ""
    error = assert_clean_failure(result, *fragments)
    assert error.startswith(f"error: {start}"), error
    assert len(error.strip().splitlines()) == 1, "one paragraph, one line"
    assert_no_false_diagnosis(case, error)
    if prepared.marker is not None:
        assert not prepared.marker.exists(), "the config ran code"


@pytest.mark.parametrize("case", params(CASES))
def test_python_api_refuses_it_with_a_config_error(host, tmp_path, case: ConfigCase):
    prepared = prepare(case, tmp_path / case.id)
    start, fragments = expected(case, prepared.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused, not merely warned about
        with pytest.raises(ConfigError) as info:
            config = build_pipeline_config(host, files=[prepared.path], overrides=case.sets)
            validate_transforms(config, host)
            if "model_factory" in config.model_fields_set:
                factory_class_of(host, config)
    message = str(info.value)
    assert message.startswith(start), message
    assert all(fragment in message for fragment in fragments), message
    assert_no_false_diagnosis(case, message)
    if prepared.marker is not None:
        assert not prepared.marker.exists()


# the optimizer takes a ready factory, so `model_factory` is not its concern; --set is the CLI's
FILE_ONLY_CASES = [case for case in CASES if not case.sets and case.id != "unknown-model-factory"]


@pytest.mark.parametrize("case", params(FILE_ONLY_CASES))
def test_optimizer_constructor_refuses_the_file(host, tmp_path, case: ConfigCase):
    prepared = prepare(case, tmp_path / case.id)
    start, _ = expected(case, prepared.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError) as info:
            InferenceOptimizer(None, os.fspath(prepared.path), host=host)
    assert str(info.value).startswith(start), str(info.value)
