"""The command line as a whole: usage errors, global options, version, and no torch for listings."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from autodeploy import __version__


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["-p", "probe", "list-transforms"], "expected no:NAME to block plugin NAME, got 'probe'"),
        (["show"], "the following arguments are required: key"),
        (["validate"], "the following arguments are required: CONFIG.yaml"),
        (["list-plugins", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_exits_2_with_the_usage(run_cli, args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: autodeploy")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_version(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"autodeploy {__version__}\n"


def test_verbose_logs_plugin_loading_details(run_cli):
    quiet = run_cli("list-transforms")
    chatty = run_cli("list-transforms", "-vv")
    assert quiet.returncode == chatty.returncode == 0
    assert quiet.stdout == chatty.stdout  # logs go to stderr only
    assert quiet.stderr.startswith("warning: plugin 'broken_import'")  # the broken test plugin, named
    assert len(quiet.stderr.splitlines()) == 2
    debug_lines = [line for line in chatty.stderr.splitlines() if line.startswith("DEBUG: ")]
    assert any("broken_import" in line for line in debug_lines), chatty.stderr


LISTING_SCRIPT = textwrap.dedent(
    """
    import sys
    from autodeploy.cli.main import main
    status = main(sys.argv[1:])
    print("heavy:", " ".join(name for name in ("torch", "transformers") if name in sys.modules) or "-")
    sys.exit(status)
    """
)


@pytest.mark.parametrize(
    "args",
    [["list-transforms"], ["list-plugins", "--json"], ["show", "probe_build"], ["list-transforms", "--json"]],
)
def test_listing_does_not_import_torch_or_transformers(run_cli, args):
    result = run_cli.python("-c", LISTING_SCRIPT, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "heavy: -"


def test_validate_does_not_import_torch(run_cli, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("mode: probe\n")
    result = run_cli.python("-c", LISTING_SCRIPT, "validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "heavy: -"


def test_module_and_main_agree(run_cli):
    via_module = run_cli("list-transforms", "--json")
    via_main = run_cli.python(
        "-c", "import sys; from autodeploy.cli.main import main; sys.exit(main())", "list-transforms", "--json"
    )
    assert via_module.returncode == via_main.returncode == 0
    assert via_module.stdout == via_main.stdout


def test_a_closed_pipe_is_not_an_error(run_cli):
    """``autodeploy list-plugins | head -0``: the reader left; no traceback, no complaint."""
    process = subprocess.Popen(
        [sys.executable, "-m", "autodeploy", "list-plugins", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=run_cli.env,
        cwd=run_cli.cwd,
    )
    process.stdout.close()  # before the command starts writing
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0
    assert stderr == ""
