"""Plugin subcommands (``autodeploy_register_commands``) through the real command line.

The probe distribution adds `probe-echo`; `command_plugins_dist/` (pip-installed here) adds one
plugin per way a command can go wrong: a clash with a built-in name, options that cannot be built,
a registration hook that raises, two plugins with the same command, a handler that raises.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from autodeploy_test_support import install_copies

COMMANDS_DIST_DIR = Path(__file__).parent / "command_plugins_dist"
COMMANDS_DISTRIBUTION = "autodeploy-cli-commands"
ORIGIN = "(autodeploy-cli-commands 0.1.0)"
HEAVY_SCRIPT = textwrap.dedent(
    """
    import sys
    from autodeploy.cli.main import main
    status = main(sys.argv[1:])
    print("heavy:", " ".join(name for name in ("torch", "transformers") if name in sys.modules) or "-")
    sys.exit(status)
    """
)


@pytest.fixture(scope="module")
def commands_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("cli_commands")
    site = root / "site"
    install_copies([COMMANDS_DIST_DIR], site, root / "src")
    yield site
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def run_with_commands(run_cli, commands_site: Path):
    """The probe plugin plus the command plugins (the shared test plugins stay out)."""
    env = dict(run_cli.env)
    env["PYTHONPATH"] = os.pathsep.join([str(commands_site), env["PYTHONPATH"]])
    env["AUTODEPLOY_PLUGINS"] = f"autodeploy-cli-probe,{COMMANDS_DISTRIBUTION}"
    return dataclasses.replace(run_cli, env=env)


def _commands_in_help(text: str) -> list[str]:
    section = text.split("positional arguments:")[1].split("options:")[0]
    return [line.split()[0] for line in section.splitlines() if line.startswith("    ") and line.split()]


def test_a_plugin_command_is_listed_and_runs(run_cli):
    listing = run_cli("--help")
    assert listing.returncode == 0
    assert "probe-echo" in _commands_in_help(listing.stdout)
    assert "print the given words (a plugin command)" in listing.stdout

    result = run_cli("probe-echo", "hello", "world", "--upper", "--exit", "3")
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["HELLO WORLD", "transforms: probe_build,probe_cleanup,probe_orphan"]


def test_a_plugin_command_has_its_own_help_and_usage_errors(run_cli):
    helped = run_cli("probe-echo", "--help")
    assert helped.returncode == 0
    assert "usage: autodeploy probe-echo" in helped.stdout and "--upper" in helped.stdout
    assert "--strict-plugins" in helped.stdout  # the global options are there, as for built-in commands
    assert "(a command of plugin 'probe' (autodeploy-cli-probe 0.3.0))" in helped.stdout

    bad = run_cli("probe-echo", "--exit", "x", "a")
    assert bad.returncode == 2
    assert "argument --exit: invalid int value: 'x'" in bad.stderr


def test_global_options_after_a_plugin_command(run_cli):
    result = run_cli("probe-echo", "hi", "-p", "no:good")  # blocks a shared test plugin, after the command
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("hi\n")


def test_blocking_the_plugin_removes_its_command(run_cli):
    result = run_cli("-p", "no:autodeploy-cli-probe", "probe-echo", "hi")
    assert result.returncode == 2
    assert "invalid choice: 'probe-echo'" in result.stderr


def test_listing_and_running_a_plugin_command_import_no_torch(run_cli):
    result = run_cli.python("-c", HEAVY_SCRIPT, "probe-echo", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "heavy: -"


def test_broken_commands_are_plugin_problems_and_the_rest_works(run_with_commands):
    listing = run_with_commands("--help")
    assert listing.returncode == 0, listing.stderr
    commands = _commands_in_help(listing.stdout)
    assert commands.count("run") == 1  # the built-in; the plugin's `run` is refused
    assert {"probe-echo", "clash-ok", "crash"} <= set(commands)
    assert not {"badargs", "badglobal", "half-registered", "twin"} & set(commands)

    result = run_with_commands("probe-echo", "still", "works")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("still works\n")
    warnings = result.stderr
    assert f"warning: plugin 'clash' {ORIGIN}: command 'run' is a built-in command of autodeploy" in warnings
    assert (
        f"warning: plugin 'badargs' {ORIGIN}: command 'badargs': add_arguments(parser) raised ValueError: cannot add options today"
        in warnings
    )
    assert (
        f"warning: plugin 'badargs' {ORIGIN}: command 'badglobal': add_arguments(parser) raised ArgumentError"
        in warnings
    )
    assert (
        f"warning: plugin 'raising' {ORIGIN} failed: RuntimeError: command registration exploded (raised in autodeploy_register_commands)"
        in warnings
    )
    assert f"warning: command 'twin' is registered by plugin 'twin_a' {ORIGIN} and plugin 'twin_b' {ORIGIN}" in warnings
    assert "Traceback" not in warnings

    clash_ok = run_with_commands("clash-ok")
    assert (clash_ok.returncode, clash_ok.stdout) == (0, "ran clash-ok\n")
    assert run_with_commands("list-transforms").returncode == 0  # built-in commands keep working


def test_plugin_commands_in_list_plugins(run_with_commands):
    result = run_with_commands("list-plugins", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {plugin["name"]: plugin for plugin in report["plugins"]}
    assert "command probe-echo" in by_name["probe"]["provides"]
    assert by_name["clash"]["provides"] == ["command clash-ok"]
    assert by_name["raising"]["status"] == "failed"
    assert any("add_arguments(parser) raised ValueError" in problem for problem in by_name["badargs"]["problems"])


def test_strict_plugins_fails_on_a_broken_command(run_with_commands):
    result = run_with_commands("--strict-plugins", "probe-echo", "hi")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "error: strict plugin checks" in result.stderr
    assert "command 'badargs': add_arguments(parser) raised ValueError" in result.stderr


def test_a_failing_handler_is_an_error_naming_the_plugin(run_with_commands):
    result = run_with_commands("-p", "no:badargs", "-p", "no:clash", "-p", "no:raising", "crash")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: command 'crash' of plugin 'crash' {ORIGIN} failed: ValueError: the handler broke"
    )
    assert "Traceback" not in result.stderr
    debug = run_with_commands("crash", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "the handler broke" in debug.stderr
