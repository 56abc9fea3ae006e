"""Wrong command-line arguments: each call (real subprocesses, one batch) exits with its status and
a clear error, no traceback, and nothing done or written before the refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_bad_input import params
from reliability_cases_commands import CASES, CommandCase
from reliability_support import TRACEBACK, CliCall, clean_env, error_of, run_many


@pytest.fixture(scope="module")
def command_runs(tiny_llama_dir, cli_cwd, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("command_cases")
    calls, dirs = {}, {}
    for case in CASES:
        dirs[case.id] = root / case.id
        dirs[case.id].mkdir()
        args = tuple(arg.format(model=tiny_llama_dir, dir=dirs[case.id]) for arg in case.args)
        calls[case.id] = CliCall(args, clean_env(**case.env), cli_cwd)
    results = run_many(calls)
    return {case_id: (dirs[case_id], results[case_id]) for case_id in results}


@pytest.mark.slow  # one batch of subprocesses for the whole module
@pytest.mark.parametrize("case", params(CASES))
def test_a_wrong_argument_is_refused_before_the_work(command_runs, case: CommandCase):
    folder, result = command_runs[case.id]
    assert TRACEBACK not in result.stderr, result.stderr
    assert result.returncode == case.status, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    error = error_of(result)
    assert error.startswith(f"error: {case.error}"), error
    assert all(fragment in error for fragment in case.also), error
    assert len(error.strip().splitlines()) == 1, "one paragraph, one line"
    output = result.stdout + result.stderr
    assert not [fragment for fragment in case.absent if fragment in output], output
    assert list(Path(folder).iterdir()) == [], "written before the refusal"
