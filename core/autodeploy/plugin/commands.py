"""Command-line subcommands contributed by plugins (``autodeploy_register_commands``).

A plugin adds a subcommand the way llm's ``register_commands`` does, without touching the core:
it registers a name, a one-line help, a function that adds its options to an argparse parser and
a handler. Registering only stores functions, so ``python -m autodeploy --help`` stays cheap and
torch-free; the handler imports what it needs when the command runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:
    import argparse

    from .host import PluginHost

# what a shell user types: lowercase words joined by '-', like the built-in commands
COMMAND_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

CommandHandler = Callable[["argparse.Namespace", "PluginHost"], Union[int, None]]
ArgumentAdder = Callable[["argparse.ArgumentParser"], None]


@dataclass(frozen=True)
class PluginCommand:
    """One registered subcommand.

    `run(args, host)` returns the exit status (None counts as 0); `add_arguments(parser)` adds
    the command's options to its own argparse parser (the global options are there already).
    """

    name: str
    help: str
    run: CommandHandler
    add_arguments: Optional[ArgumentAdder] = None
    description: Optional[str] = None


def make_command(
    name: Any,
    *,
    help: Any,  # noqa: A002 - argparse's word, what plugin authors expect
    run: Any,
    add_arguments: Any = None,
    description: Any = None,
) -> Union[PluginCommand, str]:
    """The command a plugin's ``register(...)`` call describes, or the reason it is unusable."""
    if not isinstance(name, str):
        return f"command name {name!r} is a {type(name).__name__}, not a string"
    if not COMMAND_NAME_PATTERN.match(name):
        return f"command name {name!r} is not a plain command word (lowercase letters, digits, single '-')"
    if not isinstance(help, str) or not help.strip():
        return f"command {name!r}: help must be a non-empty string, got {help!r:.60}"
    if not callable(run):
        return f"command {name!r}: run must be callable as run(args, host), got {run!r:.60}"
    if add_arguments is not None and not callable(add_arguments):
        return f"command {name!r}: add_arguments must be callable as add_arguments(parser), got {add_arguments!r:.60}"
    if description is not None and not isinstance(description, str):
        return f"command {name!r}: description must be a string, got {description!r:.60}"
    return PluginCommand(name, help.strip(), run, add_arguments, description)
