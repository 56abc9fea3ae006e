"""``autodeploy list-transforms`` and ``list-plugins`` against real installed test plugins."""

from __future__ import annotations

import json

ANSI_ESCAPE = "\x1b["


def assert_clean_output(text: str) -> None:
    """Plain text that pipes well: no colors, no trailing spaces, one final newline."""
    assert ANSI_ESCAPE not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in text.splitlines())


def test_list_transforms_table_is_sorted_by_stage_then_key(run_cli):
    result = run_cli("list-transforms")
    assert result.returncode == 0, result.stderr
    # the table still lists everything usable; the broken test plugin is named on stderr
    assert result.stderr.startswith(
        "warning: plugin 'broken_import' (autodeploy-testplugin-broken-import 0.3.0) failed: ModuleNotFoundError"
    )
    assert len(result.stderr.splitlines()) == 2
    assert_clean_output(result.stdout)
    header, *rows = [line.split() for line in result.stdout.splitlines()]
    assert header == ["KEY", "STAGE", "MODES", "PROVIDED", "BY", "VERSION", "MODULE"]
    hello, *probes = rows
    del hello[4]  # the shared test distribution's version is not this test's business
    assert hello == [
        "hello",
        "factory,post_export",
        "graph,greetings",
        "autodeploy-testplugin-good",
        "autodeploy_testplugin_good.transform",
    ]
    assert probes == [
        ["probe_build", "factory", "probe", "autodeploy-cli-probe", "0.3.0", "autodeploy_cli_probe.transforms"],
        ["probe_cleanup", "post_export,pattern_matcher", "probe,probe_lite", "autodeploy-cli-probe", "0.3.0", "autodeploy_cli_probe.transforms"],
        ["probe_orphan", "-", "-", "autodeploy-cli-probe", "0.3.0", "autodeploy_cli_probe.transforms"],
    ]  # fmt: skip


def test_list_transforms_json(run_cli):
    result = run_cli("list-transforms", "--json")
    assert result.returncode == 0, result.stderr
    listed = {item["key"]: item for item in json.loads(result.stdout)["transforms"]}
    assert list(listed) == ["hello", "probe_build", "probe_cleanup", "probe_orphan"]
    assert listed["probe_cleanup"] == {
        "key": "probe_cleanup",
        "stages": ["post_export", "pattern_matcher"],  # in stage order
        "modes": ["probe", "probe_lite"],
        "plugin": "probe",
        "distribution": "autodeploy-cli-probe",
        "version": "0.3.0",
        "module": "autodeploy_cli_probe.transforms",
        "class": "ProbeCleanup",
    }
    assert listed["probe_orphan"]["stages"] == [] and listed["probe_orphan"]["modes"] == []


def test_list_transforms_stage_filter(run_cli):
    result = run_cli("list-transforms", "--stage", "factory", "--json")
    assert [item["key"] for item in json.loads(result.stdout)["transforms"]] == ["hello", "probe_build"]
    result = run_cli("list-transforms", "--stage", "compile")
    assert result.returncode == 0
    assert result.stdout == "no transforms in stage compile (see `autodeploy list-plugins`)\n"


def test_list_transforms_unknown_stage_is_bad_usage(run_cli):
    result = run_cli("list-transforms", "--stage", "compiling")
    assert result.returncode == 2
    assert "invalid choice: 'compiling'" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_plugins_shows_every_record_and_the_problems(run_cli):
    result = run_cli("list-plugins")
    assert result.returncode == 0, result.stderr
    assert_clean_output(result.stdout)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "GROUP", "DISTRIBUTION", "VERSION", "STATUS", "ERROR"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if line and not line.startswith(" ")}
    assert rows["probe"][1:5] == ["autodeploy.transforms", "autodeploy-cli-probe", "0.3.0", "loaded"]
    assert rows["hello"][4] == "loaded"
    assert rows["broken_import"][2] == "autodeploy-testplugin-broken-import"
    assert rows["broken_import"][4] == "failed"
    assert "ModuleNotFoundError" in " ".join(rows["broken_import"])
    assert "problems:" in lines
    assert any("broken_import" in line and "failed" in line for line in lines[lines.index("problems:") :])


def test_list_plugins_json(run_cli):
    result = run_cli("list-plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    records = {record["name"]: record for record in data["plugins"]}
    assert records["probe"]["status"] == "loaded"
    assert records["probe"]["provides"] == [
        "transform probe_build",
        "transform probe_cleanup",
        "transform probe_orphan",
        "mode probe",
        "mode probe_lite",
        "command probe-echo",
    ]
    assert records["broken_import"]["status"] == "failed"
    assert "autodeploy_testplugin_missing_dependency" in records["broken_import"]["error"]
    assert any("broken_import" in problem for problem in data["problems"])


def test_blocking_a_plugin(run_cli):
    result = run_cli("-p", "no:autodeploy-testplugin-broken-import", "list-plugins", "-p", "no:probe", "--json")
    assert result.returncode == 0, result.stderr
    statuses = {record["name"]: record["status"] for record in json.loads(result.stdout)["plugins"]}
    assert statuses["broken_import"] == "blocked"
    assert statuses["probe"] == "blocked"
    assert statuses["hello"] == "loaded"
    listed = json.loads(run_cli("list-transforms", "--json", "-p", "no:probe").stdout)["transforms"]
    assert [item["key"] for item in listed] == ["hello"]


def test_strict_plugins_fails_on_a_broken_plugin_unless_it_is_blocked(run_cli):
    result = run_cli("--strict-plugins", "list-transforms")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: strict plugin checks")
    assert "broken_import" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli("--strict-plugins", "-p", "no:broken_import", "list-transforms")
    assert result.returncode == 0, result.stderr
    result = run_cli("list-transforms", "--strict-plugins", "-p", "no:broken_import")  # after the subcommand
    assert result.returncode == 0, result.stderr
