"""Registering plugin subcommands: what is accepted, what is refused and why (in process).

The command line side (parsers, --help, running, strict mode) is tested through the real CLI in
tests/cli/test_cli_plugin_commands.py.
"""

from __future__ import annotations

import pytest

from autodeploy import PluginControls, PluginError, PluginHost, PluginStatus, hookimpl
from autodeploy.plugin.commands import PluginCommand


def handler(args, host):
    return 0


def add_arguments(parser):
    parser.add_argument("--flag")


class Commands:
    """Registers the commands it is given as keyword dicts."""

    def __init__(self, *registrations: tuple[object, dict]):
        self.registrations = registrations

    @hookimpl
    def autodeploy_register_commands(self, register):
        for name, fields in self.registrations:
            register(name, **fields)


def host_with(*plugins: tuple[str, object], strict: bool = False) -> PluginHost:
    host = PluginHost(PluginControls(autoload=False, strict=strict))
    for name, plugin in plugins:
        host.register(plugin, name=name)
    return host


def test_a_command_is_registered_with_its_parts():
    plugin = Commands(("say-hi", {"help": " say hi ", "run": handler, "add_arguments": add_arguments}))
    host = host_with(("hi", plugin))
    provider = host.commands()["say-hi"]
    assert provider.obj == PluginCommand("say-hi", "say hi", handler, add_arguments, None)
    assert provider.plugin.name == "hi"
    assert provider.plugin.provides == ["command say-hi"]
    assert host.problems() == []


@pytest.mark.parametrize(
    ("name", "fields", "problem"),
    [
        ("Say_Hi", {"help": "x", "run": handler}, "command name 'Say_Hi' is not a plain command word"),
        ("say--hi", {"help": "x", "run": handler}, "command name 'say--hi' is not a plain command word"),
        (3, {"help": "x", "run": handler}, "command name 3 is a int, not a string"),
        ("hi", {"help": "  ", "run": handler}, "command 'hi': help must be a non-empty string"),
        ("hi", {"help": "x", "run": "handler"}, "command 'hi': run must be callable as run(args, host)"),
        ("hi", {"help": "x", "run": handler, "add_arguments": 1}, "command 'hi': add_arguments must be callable"),
        ("hi", {"help": "x", "run": handler, "description": 1}, "command 'hi': description must be a string"),
    ],
)
def test_a_bad_registration_is_refused_with_a_reason(name, fields, problem):
    host = host_with(("bad", Commands((name, fields), ("fine", {"help": "x", "run": handler}))))
    assert list(host.commands()) == ["fine"]  # the plugin's other command is still there
    [line] = host.problems()
    assert line.startswith("plugin 'bad' (in-process): ") and problem in line


def test_register_with_missing_parts_fails_the_plugin():
    host = host_with(
        ("bad", Commands(("hi", {"help": "x"}))), ("good", Commands(("ok", {"help": "x", "run": handler})))
    )
    assert list(host.commands()) == ["ok"]
    [record] = [record for record in host.plugins if record.name == "bad"]
    assert record.status is PluginStatus.FAILED
    assert "missing 1 required keyword-only argument: 'run'" in record.error
    assert "(raised in autodeploy_register_commands)" in record.error


def test_reserved_names_and_two_providers_are_reported():
    host = host_with(
        ("a", Commands(("run", {"help": "x", "run": handler}), ("twin", {"help": "a", "run": handler}))),
        ("b", Commands(("twin", {"help": "b", "run": handler}))),
    )
    assert set(host.commands()) == {"run"}  # twin: a conflict, neither is usable
    host.reserve_commands(["run", "list-plugins"])
    assert host.commands() == {}
    problems = host.problems()
    assert (
        "plugin 'a' (in-process): command 'run' is a built-in command of autodeploy; the plugin's command is ignored"
        in problems
    )
    assert any(
        line.startswith("command 'twin' is registered by plugin 'a' (in-process) and plugin 'b'") for line in problems
    )


def test_strict_mode_refuses_commands_unless_asked_not_to_check():
    host = host_with(
        ("a", Commands(("ok", {"help": "x", "run": handler}), ("BAD", {"help": "x", "run": handler}))), strict=True
    )
    with pytest.raises(PluginError, match="command name 'BAD'"):
        host.commands()
    assert list(host.commands(check_strict=False)) == ["ok"]


def test_a_noted_problem_survives_collecting_again():
    host = host_with(("a", Commands(("ok", {"help": "x", "run": handler}))))
    record = host.commands()["ok"].plugin
    host.note_problem(record, "command 'ok': its options would not build")
    host.reserve_commands(["run"])  # makes the host collect registrations again
    assert host.problems() == ["plugin 'a' (in-process): command 'ok': its options would not build"]
