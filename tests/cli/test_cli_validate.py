"""``autodeploy validate CONFIG.yaml``: the resolved, ordered pipeline, or an error naming file and field."""

from __future__ import annotations

import json

import pytest

BROKEN_IMPORT_WARNING = (
    "warning: plugin 'broken_import' (autodeploy-testplugin-broken-import 0.3.0) failed: ModuleNotFoundError"
)


def without_plugin_warnings(stderr: str) -> str:
    """stderr less the warnings about the broken test plugin, which commands print before their work."""
    lines = stderr.splitlines(keepends=True)
    assert lines and lines[0].startswith(BROKEN_IMPORT_WARNING), stderr
    assert "1 plugin problem(s)" in lines[1], stderr
    return "".join(lines[2:])


@pytest.fixture
def config_file(tmp_path):
    def write(text: str, name: str = "pipeline.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def test_validate_prints_the_ordered_pipeline_and_ok(run_cli, config_file):
    path = config_file(
        "mode: probe\nruntime: demollm\ntransforms:\n  probe_build:\n    device: cpu\n"
        "  probe_orphan:\n    stage: export\n    enabled: false\n"
    )
    result = run_cli("validate", str(path), "--set", "transforms.probe_build.layers=4")
    assert result.returncode == 0, result.stderr
    # the one broken test plugin is named, with its distribution and version; nothing else is said
    assert without_plugin_warnings(result.stderr) == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "STAGE", "KEY", "ENABLED", "FROM", "SETTINGS"]
    rows = [line.split(maxsplit=4) for line in lines[1:-1]]
    assert [row[:4] for row in rows] == [
        ["1", "factory", "probe_build", "yes"],
        ["2", "export", "probe_orphan", "no"],
        ["3", "post_export", "probe_cleanup", "yes"],
    ]
    assert rows[0][4].startswith(f"mode probe + {path} + --set transforms.probe_build.layers=4")
    assert rows[0][4].endswith('run_per_gm=false device="cpu" layers=4')
    assert lines[-1] == "OK: 3 transform(s) in 3 stage(s), mode probe"


def test_validate_mode_option_and_json(run_cli, config_file):
    path = config_file("transforms:\n  probe_cleanup:\n    requires_clean_graph: false\n")
    result = run_cli("validate", str(path), "--mode", "probe_lite", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "probe_lite"
    (entry,) = data["transforms"]
    assert entry["key"] == "probe_cleanup"
    assert entry["sources"] == ["mode probe_lite", str(path)]
    assert entry["config"]["stage"] == "pattern_matcher"
    assert entry["config"]["requires_clean_graph"] is False


def test_several_files_merge_in_order(run_cli, config_file):
    first = config_file("mode: probe\ntransforms:\n  probe_build:\n    layers: 3\n", "first.yaml")
    second = config_file("transforms:\n  probe_build:\n    layers: 5\n", "second.yaml")
    result = run_cli("validate", str(first), str(second), "--json")
    assert result.returncode == 0, result.stderr
    build = json.loads(result.stdout)["transforms"][0]
    assert build["config"]["layers"] == 5 and build["config"]["device"] == "meta"


def test_unknown_field_warns_on_stderr_and_strict_fails(run_cli, config_file):
    path = config_file("mode: probe\ntransforms:\n  probe_build:\n    num_layers: 3\n")
    result = run_cli("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("OK: 2 transform(s) in 2 stage(s), mode probe")
    warning_lines = without_plugin_warnings(result.stderr).strip().splitlines()
    assert len(warning_lines) == 1  # shown once, not once per mechanism
    assert warning_lines[0].startswith(
        f"WARNING: {path}: transforms.probe_build.num_layers: unknown field 'num_layers'"
    )
    assert "did you mean 'layers'?" in warning_lines[0]

    result = run_cli("validate", str(path), "--strict")
    assert result.returncode == 1
    assert result.stdout == ""
    assert without_plugin_warnings(result.stderr).startswith(
        f"error: {path}: transforms.probe_build.num_layers: unknown field 'num_layers'"
    )
    assert "Traceback" not in result.stderr


def test_a_misspelt_field_fails_even_without_strict(run_cli, config_file):
    path = config_file("mode: probe\ntransforms:\n  probe_build:\n    devise: cpu\n")
    result = run_cli("validate", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert without_plugin_warnings(result.stderr).startswith(
        f"error: {path}: transforms.probe_build.devise: unknown field 'devise' for transform 'probe_build'; "
        "did you mean 'device'?"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "expected"),
    [
        ("mode: probe\ntransforms:\n  probe_build:\n    device: cpu\n   layers: 2\n", [], "{path}: line 5, column 4: invalid YAML"),
        ("mode: probe\ntransforms:\n  probe_build:\n    layers: 0\n", [], "{path}: transforms.probe_build.layers: expected a value greater than or equal to 1, got 0 (int)"),
        ("mode: probe\ntransforms:\n  probe_bild:\n    stage: factory\n", [], "{path}: transforms.probe_bild: unknown transform 'probe_bild'; did you mean 'probe_build'"),
        ("mode: prob\n", [], "{path}: mode: unknown mode 'prob' (did you mean 'probe'?)"),
        ("transforms:\n  probe_orphan: {}\n", [], "{path}: transforms.probe_orphan.stage: required field 'stage' is missing"),
        ("mode: probe\n", ["transforms.probe_build.layers=many"], "--set transforms.probe_build.layers=many: transforms.probe_build.layers: expected a valid integer"),
        ("mode: probe\n", ["transforms.probe_buid.layers=2"], "--set transforms.probe_buid.layers=2: transforms.probe_buid.layers: the config has no transform entry 'probe_buid' to override (did you mean 'probe_build'?)"),
        ("mode: probe\n", ["layers"], "--set layers: expected KEY.PATH=VALUE"),
        ("- a\n", [], "{path}: the top level must be a mapping"),
    ],
)  # fmt: skip
def test_validate_errors_name_their_source_and_path(run_cli, config_file, yaml_text, overrides, expected):
    path = config_file(yaml_text)
    args = ["validate", str(path)]
    for override in overrides:
        args += ["--set", override]
    result = run_cli(*args)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert without_plugin_warnings(result.stderr).startswith("error: " + expected.format(path=path)), result.stderr
    assert "Traceback" not in result.stderr


def test_validate_missing_file_is_an_error(run_cli, tmp_path):
    result = run_cli("validate", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1
    assert without_plugin_warnings(result.stderr) == f"error: {tmp_path / 'absent.yaml'}: no such file\n"
