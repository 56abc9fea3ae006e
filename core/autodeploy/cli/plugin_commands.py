"""Subcommands that plugins add (``autodeploy_register_commands``): their parsers and their runs.

A plugin command gets its own argparse parser with the global options, as a built-in one does.
Its ``add_arguments`` is plugin code: when it raises, or adds an option that clashes with a
global one, the command is left out and the plugin gets a problem on its record (shown as a
warning, fatal with ``--strict-plugins``); the other commands keep working. When the command
runs, an unexpected exception is reported naming the plugin (the traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import AutodeployError
from ..plugin.records import describe_exception

if TYPE_CHECKING:
    from ..plugin import PluginHost, Provider
    from ..plugin.commands import PluginCommand


class PluginCommandError(AutodeployError):
    """A plugin's command raised something other than an `AutodeployError` while it ran."""


def add_plugin_parsers(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser], host: PluginHost
) -> dict[str, Provider]:
    """Add a parser for every usable plugin command; returns the commands added, by name."""
    added = {}
    for name, provider in host.commands(check_strict=False).items():
        command: PluginCommand = provider.obj
        options = argparse.ArgumentParser(add_help=False)
        try:
            if command.add_arguments is not None:
                command.add_arguments(options)
            # a trial parser: clashes with the global options show here, not half-way into subparsers
            argparse.ArgumentParser(parents=[*parents, options])
        except Exception as exc:  # noqa: BLE001 - one plugin's command must not take the CLI down
            host.note_problem(
                provider.plugin,
                f"command {name!r}: add_arguments(parser) raised {describe_exception(exc)}; the command is left out",
            )
            continue
        subparsers.add_parser(
            name,
            help=command.help,
            description=command.description or command.help,
            epilog=f"(a command of {provider.plugin.origin})",
            parents=[*parents, options],
        )
        added[name] = provider
    return added


def run_plugin_command(provider: Provider, args: argparse.Namespace, host: PluginHost) -> int:
    """Run a plugin command; its unexpected exceptions become a `PluginCommandError` naming the plugin."""
    command: PluginCommand = provider.obj
    try:
        status = command.run(args, host)
    except (AutodeployError, KeyboardInterrupt, BrokenPipeError, SystemExit):
        raise
    except Exception as exc:
        raise PluginCommandError(
            f"command {command.name!r} of {provider.plugin.origin} failed: {describe_exception(exc)}"
        ) from exc
    return 0 if status is None else int(status)
