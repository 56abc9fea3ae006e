"""``autodeploy show KEY``: description, config fields and JSON schema of a transform."""

from __future__ import annotations

import json

BROKEN_IMPORT_WARNING = (
    "warning: plugin 'broken_import' (autodeploy-testplugin-broken-import 0.3.0) failed: ModuleNotFoundError"
)


def without_plugin_warnings(stderr: str) -> str:
    """stderr less the warnings about the broken test plugin, which commands print before their work."""
    lines = stderr.splitlines(keepends=True)
    assert lines and lines[0].startswith(BROKEN_IMPORT_WARNING), stderr
    assert "1 plugin problem(s)" in lines[1], stderr
    return "".join(lines[2:])


def test_show_prints_docstring_fields_and_schema(run_cli):
    result = run_cli("show", "probe_build")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == "probe_build: autodeploy_cli_probe.transforms.ProbeBuild"
    assert lines[1].split() == [
        "stage:",
        "factory",
        "modes:",
        "probe",
        "provided",
        "by:",
        "autodeploy-cli-probe",
        "0.3.0",
    ]
    assert "Build the probe model on the configured device.\n\nA second paragraph" in out
    assert "config: ProbeBuildConfig" in lines
    fields = {
        line.split()[0]: line.split(maxsplit=3)
        for line in lines
        if line.startswith(("stage ", "device ", "layers ", "debug_visualize_dir "))
    }
    assert fields["stage"][1:3] == ["Stages", "required"]
    assert fields["device"] == ["device", "str", '"meta"', "The device to build the probe model on."]
    assert fields["layers"][1:3] == ["int", "2"]
    assert fields["debug_visualize_dir"][1:3] == ["Optional[str]", "null"]
    schema = json.loads(out[out.index("JSON schema:\n") + len("JSON schema:\n") :])
    assert schema["title"] == "ProbeBuildConfig"
    assert schema["required"] == ["stage"]


def test_show_json_is_the_schema_alone(run_cli):
    result = run_cli("show", "probe_build", "--json")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["properties"]["device"]["default"] == "meta"
    assert schema["properties"]["layers"]["minimum"] == 1


def test_show_a_transform_in_no_mode(run_cli):
    result = run_cli("show", "probe_orphan")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[:4] == ["stage:", "-", "modes:", "-"]
    assert "config: TransformConfig" in result.stdout


def test_show_unknown_key_is_an_error_with_the_closest_key(run_cli):
    result = run_cli("show", "probe_buil")
    assert result.returncode == 1
    assert result.stdout == ""
    error = without_plugin_warnings(result.stderr)
    assert error.startswith("error: unknown transform 'probe_buil'; did you mean 'probe_build'")
    assert "Traceback" not in result.stderr
    assert len(error.strip().splitlines()) == 1


def test_debug_shows_the_traceback(run_cli):
    result = run_cli("--debug", "show", "probe_buil")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "UnknownTransformError" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: unknown transform 'probe_buil'")
