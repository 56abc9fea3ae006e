"""Broken third-party plugins, each a real installed distribution, against the real command line.

All commands run once per module, several processes at a time (`plugin_runs`); each test then
checks one case's part of the answers.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_bad_input import params
from reliability_cases_plugins import CASES, PluginCase
from reliability_support import (
    TRACEBACK,
    TWICE_NEW_VERSION,
    TWICE_OLD_VERSION,
    CliCall,
    assert_clean_failure,
    fingerprint,
    run_many,
    warning_lines,
)

from autodeploy import PluginError, PluginHost

pytestmark = pytest.mark.slow  # one module-wide batch of subprocesses, a model run among them

OK_CONFIG = "mode: null\ntransforms:\n  hello:\n    stage: post_export\n    run_per_gm: false\n"
RUN_ARGS = ("--mode", "transformers", "--input-ids", "1,2,3", "--max-new-tokens", "2")
CASES_NEEDING = [case for case in CASES if case.needs is not None]


@dataclass(frozen=True)
class PluginRuns:
    results: dict
    work: Path
    model_before: dict[str, str]
    model_after: dict[str, str]

    def __getitem__(self, key) -> subprocess.CompletedProcess[str]:
        return self.results[key]


def _distributions(case: PluginCase) -> str:
    return ",".join(sorted({record.distribution for record in case.records}))


@pytest.fixture(scope="module")
def plugin_runs(all_plugins_env, cli_cwd, tiny_llama_dir, tmp_path_factory) -> PluginRuns:
    work = tmp_path_factory.mktemp("plugin_cases")
    ok_config = work / "ok.yaml"
    ok_config.write_text(OK_CONFIG)
    env = all_plugins_env

    def call(*args: str, **extra_env: str) -> CliCall:
        return CliCall(args, env, cli_cwd, extra_env=extra_env)

    calls = {  # the model run first: it is the longest, the others share the other cores meanwhile
        "run": call("run", "--model", str(tiny_llama_dir), *RUN_ARGS),
        "list-plugins": call("list-plugins", "--json"),
        "list-transforms": call("list-transforms"),
        "validate": call("validate", str(ok_config)),
        "strict-list-plugins": call("--strict-plugins", "list-plugins"),
        "strict-environment": call("validate", str(ok_config), AUTODEPLOY_STRICT_PLUGINS="1"),
        "strict-flag": call("--strict-plugins", "list-transforms"),
        "strict-control": call("--strict-plugins", "list-transforms", AUTODEPLOY_PLUGINS="autodeploy-testplugin-good"),
    }
    for case in CASES:
        if case.needs is not None:
            config = work / f"{case.id}.yaml"
            config.write_text(case.needs)
            calls["needs", case.id] = call("validate", str(config))
    before = fingerprint(tiny_llama_dir)
    results = run_many(calls)
    return PluginRuns(results, work, before, fingerprint(tiny_llama_dir))


def _problem_lines(lines: list[str], case: PluginCase) -> list[str]:
    found = [line for line in lines if case.problem in line]
    assert found, f"{case.problem!r} in none of:\n" + "\n".join(lines)
    for line in found:  # every mention says which distribution, in which version, is at fault
        assert any(f"({record.distribution} {record.version})" in line for record in case.records), line
    return found


@pytest.mark.parametrize("case", params(CASES))
def test_list_plugins_shows_status_and_error_with_distribution_and_version(plugin_runs, case: PluginCase):
    result = plugin_runs["list-plugins"]
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    for expected in case.records:
        (record,) = [
            record
            for record in listing["plugins"]
            if record["name"] == expected.entry_point and record["distribution"] == expected.distribution
        ]
        assert (record["version"], record["status"]) == (expected.version, expected.status), record
        if expected.status != "loaded":
            assert case.problem.split(": ", 1)[-1] in record["error"], record
    _problem_lines(listing["problems"], case)


@pytest.mark.parametrize("command", ["list-transforms", "validate", "run"])
@pytest.mark.parametrize("case", params(CASES))
def test_commands_that_do_not_need_it_keep_working_and_warn(plugin_runs, case: PluginCase, command: str):
    result = plugin_runs[command]
    assert result.returncode == 0, result.stderr
    assert TRACEBACK not in result.stderr
    _problem_lines(warning_lines(result.stderr), case)


def test_the_model_run_with_broken_plugins_installed_generates_and_reads_only(plugin_runs):
    result = plugin_runs["run"]
    assert result.returncode == 0, result.stderr
    assert re.search(r"build_and_load_factory_model\s+applied", result.stdout)
    assert "generated ids: " in result.stdout
    assert plugin_runs.model_after == plugin_runs.model_before


def test_installed_twice_names_both_copies(plugin_runs, reliability_sites):
    (line,) = [line for line in json.loads(plugin_runs["list-plugins"].stdout)["problems"] if "more than once" in line]
    assert f"loaded the copy in {reliability_sites.main} (version {TWICE_NEW_VERSION})" in line
    assert f"ignored the copies in {reliability_sites.second} (version {TWICE_OLD_VERSION})" in line


@pytest.mark.parametrize("case", params(CASES_NEEDING))
def test_a_pipeline_that_needs_it_fails_naming_it(plugin_runs, case: PluginCase):
    result = plugin_runs["needs", case.id]
    config = plugin_runs.work / f"{case.id}.yaml"
    if case.needed_error is None:  # usable despite the problem: validates, with the warning
        assert result.returncode == 0, result.stderr
        _problem_lines(warning_lines(result.stderr), case)
        return
    assert result.stdout == ""
    assert_clean_failure(result, f"error: {config}: ", case.needed_error)


@pytest.mark.parametrize("case", params(CASES))
def test_strict_mode_makes_it_a_failure_on_its_own(plugin_dists_on_path, reliability_sites, case: PluginCase):
    """Only this case's distributions allowed: strict mode fails, for this problem alone. (The
    command line's flag and variable are checked with every broken plugin at once, below.)"""
    plugin_dists_on_path.add(reliability_sites.main)
    plugin_dists_on_path.add(reliability_sites.second, first=False)
    environ = {"AUTODEPLOY_PLUGINS": _distributions(case), "AUTODEPLOY_STRICT_PLUGINS": "1"}
    host = PluginHost.from_environment(environ=environ)
    with pytest.raises(PluginError) as info:
        host.check_strict()
    message = str(info.value)
    assert message.startswith("strict plugin checks (AUTODEPLOY_STRICT_PLUGINS=1) found")
    _problem_lines(message.splitlines(), case)
    with pytest.raises(PluginError):
        host.transforms()  # nothing is handed out while strict checks fail

    relaxed = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": _distributions(case)})
    relaxed.check_strict()  # the same plugins, not strict: no error
    _problem_lines(relaxed.problems(), case)


def test_strict_through_the_flag_the_environment_and_in_list_plugins(plugin_runs):
    by_variable = plugin_runs["strict-environment"]
    error = assert_clean_failure(by_variable, "error: strict plugin checks (AUTODEPLOY_STRICT_PLUGINS=1)")
    assert by_variable.stdout == ""
    for case in CASES:
        _problem_lines(error.splitlines(), case)

    by_flag = plugin_runs["strict-flag"]
    error = assert_clean_failure(by_flag, "error: strict plugin checks")
    for case in CASES:
        _problem_lines(error.splitlines(), case)

    listing = plugin_runs["strict-list-plugins"]  # lists everything, then fails
    assert_clean_failure(listing, "error: strict plugin checks")
    assert "problems:" in listing.stdout and "broken_import" in listing.stdout

    control = plugin_runs["strict-control"]  # strict with only a sound plugin: fine
    assert control.returncode == 0, control.stderr
    assert control.stderr == ""
    assert control.stdout.splitlines()[1].split()[0] == "hello"
