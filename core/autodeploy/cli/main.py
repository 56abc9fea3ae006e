"""The ``autodeploy`` command: global options, subcommand dispatch and error reporting.

Each built-in subcommand is a module exposing ``NAME``, ``add_parser(subparsers, parents)`` and
``run(args, host) -> int``; adding one (``run``, ``docs``, ``new-plugin``) means adding its
module to `SUBCOMMANDS`. Plugins add more through ``autodeploy_register_commands`` (see
`plugin_commands`): the plugin host is therefore loaded before the full parser is built, with the
global options read first from the raw arguments. Exit status: 0 success, 1 an
`AutodeployError` (one paragraph on stderr, the traceback only with ``--debug``), 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Optional, TextIO

from .._version import __version__
from ..errors import AutodeployError
from ..optimizer.validation import ConfigWarning
from . import docs, list_plugins, list_transforms, new_plugin, run, show, validate
from .plugin_commands import add_plugin_parsers, run_plugin_command
from .plugin_problems import warn_about_plugin_problems
from .ranks import rank_prefix

if TYPE_CHECKING:
    from ..plugin import PluginHost, Provider

SUBCOMMANDS: tuple[ModuleType, ...] = (list_transforms, list_plugins, show, validate, run, docs, new_plugin)

# commands that use no plugins, or list plugin problems themselves (strict: then exit 1)
_NO_PLUGIN_CHECKS = frozenset({list_plugins.NAME, new_plugin.NAME})
# commands that print their own warnings about plugin problems
_WARNS_ITSELF = frozenset({docs.NAME})

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
_BLOCK_PREFIX = "no:"


def build_parser(host: Optional[PluginHost] = None) -> argparse.ArgumentParser:
    """The full parser; global options are accepted before and after the subcommand.

    With a `host`, its plugins' commands are added after the built-in ones.
    """
    return _build_parser(host)[0]


def _build_parser(host: Optional[PluginHost]) -> tuple[argparse.ArgumentParser, dict[str, Provider]]:
    parser = argparse.ArgumentParser(
        prog="autodeploy",
        description="Turn a PyTorch / Hugging Face model into an inference-ready module through "
        "a pipeline of pluggable transforms.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, after_subcommand=False)
    after = argparse.ArgumentParser(add_help=False)
    _add_global_options(after, after_subcommand=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in SUBCOMMANDS:
        command.add_parser(subparsers, [after])
    plugin_commands = {}
    if host is not None:
        host.reserve_commands(command.NAME for command in SUBCOMMANDS)
        plugin_commands = add_plugin_parsers(subparsers, [after], host)
    return parser, plugin_commands


def _add_global_options(parser: argparse.ArgumentParser, *, after_subcommand: bool) -> None:
    # after the subcommand argparse would overwrite the values given before it: use their own
    # destinations (combined in `_global_settings`) and leave unset flags out of the namespace
    suffix = "_after" if after_subcommand else ""
    unset = argparse.SUPPRESS if after_subcommand else None
    group = parser.add_argument_group("global options")
    group.add_argument(
        "-p",
        dest=f"plugin_controls{suffix}",
        action="append",
        default=unset if after_subcommand else [],
        metavar="no:NAME",
        type=_blocked_plugin,
        help="do not load the plugin NAME (entry-point or distribution name); repeatable",
    )
    group.add_argument(
        "--strict-plugins",
        action="store_true",
        default=unset if after_subcommand else False,
        help="fail on any plugin problem (broken, conflicting, incompatible plugins)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=unset if after_subcommand else False,
        help="show tracebacks for errors",
    )
    group.add_argument(
        "-v",
        "--verbose",
        dest=f"verbose{suffix}",
        action="count",
        default=unset if after_subcommand else 0,
        help="log more (-v info, -vv debug)",
    )


def _blocked_plugin(text: str) -> str:
    if not text.startswith(_BLOCK_PREFIX) or not text[len(_BLOCK_PREFIX) :].strip():
        raise argparse.ArgumentTypeError(f"expected no:NAME to block plugin NAME, got {text!r}")
    return text[len(_BLOCK_PREFIX) :].strip()


def _global_settings(args: argparse.Namespace) -> tuple[list[str], int]:
    blocked = [*args.plugin_controls, *getattr(args, "plugin_controls_after", [])]
    verbosity = args.verbose + getattr(args, "verbose_after", 0)
    return blocked, verbosity


def _early_settings(argv: Sequence[str]) -> tuple[list[str], Optional[bool], int]:
    """The global options (blocked plugins, strict, verbosity) read from anywhere in the raw
    arguments, before the full parser exists: the plugins they control add commands to it.

    Lenient on purpose: a malformed value is left for the full parser to report, and option
    abbreviations are not expanded (a plugin option ``--strict`` is not ``--strict-plugins``);
    `main` reloads the host in the rare case the full parse reads the options differently.
    """
    early = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    early.add_argument("-p", dest="plugin_controls", action="append", default=[])
    early.add_argument("--strict-plugins", action="store_true")
    early.add_argument("-v", "--verbose", action="count", default=0)
    try:
        known, _ = early.parse_known_args(list(argv))
    except SystemExit:  # e.g. a trailing `-p` without a value: the full parser says what is wrong
        return [], None, 0
    blocked = [
        value[len(_BLOCK_PREFIX) :].strip() for value in known.plugin_controls if value.startswith(_BLOCK_PREFIX)
    ]
    return [name for name in blocked if name], (True if known.strict_plugins else None), known.verbose


def _configure_logging(verbosity: int) -> None:
    """Log records to stderr as ``LEVEL: message``; warnings are shown by default."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(levelname)s: {rank_prefix()}%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else logging.WARNING)
    # config warnings are shown as log lines (``WARNING: <file>: <path>: ...``), other warnings as usual
    warnings.showwarning = _show_warning


_default_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    if issubclass(category, ConfigWarning):
        logging.getLogger("autodeploy.config").warning("%s", message)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (argparse exits with 2 on bad usage)."""
    from ..plugin import PluginHost

    argv = list(sys.argv[1:] if argv is None else argv)
    early_blocked, early_strict, early_verbosity = _early_settings(argv)
    _configure_logging(early_verbosity)
    host = PluginHost.from_environment(block=early_blocked, strict=early_strict)
    parser, plugin_commands = _build_parser(host)
    args = parser.parse_args(argv)
    blocked, verbosity = _global_settings(args)
    strict = True if args.strict_plugins else None
    if verbosity != early_verbosity:
        _configure_logging(verbosity)
    if (sorted(blocked), strict) != (sorted(early_blocked), early_strict):
        host = PluginHost.from_environment(block=blocked, strict=strict)
        host.reserve_commands(command.NAME for command in SUBCOMMANDS)
    builtin = next((command for command in SUBCOMMANDS if command.NAME == args.command), None)
    try:
        if builtin is None or builtin.NAME not in _NO_PLUGIN_CHECKS:
            host.check_strict()  # strict: any plugin problem fails the command, whatever it needs
            if builtin is None or builtin.NAME not in _WARNS_ITSELF:
                warn_about_plugin_problems(host)
        if builtin is not None:
            status = builtin.run(args, host)
        else:
            status = run_plugin_command(_plugin_command(host, args.command, plugin_commands), args, host)
        sys.stdout.flush()
        return status
    except AutodeployError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {rank_prefix()}{exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # the reader went away (`| head`): not an error; keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _plugin_command(host: PluginHost, name: str, parsed_with: dict[str, Provider]) -> Provider:
    """The provider of plugin command `name` in `host` (a reloaded host may have lost it)."""
    from ..errors import PluginError

    provider = host.commands(check_strict=False).get(name)
    if provider is None:
        raise PluginError(f"command {name!r} comes from {parsed_with[name].plugin.origin}, which is blocked")
    return provider
