"""``autodeploy list-plugins``: every plugin the host saw, loaded or not, and what went wrong."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..plugin.controls import STRICT_VAR
from .output import EMPTY_CELL, format_table, write_json, write_text

if TYPE_CHECKING:
    from ..plugin import PluginHost, PluginRecord

NAME = "list-plugins"
HELP = "list the plugins found, with their status and problems"


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP, parents=parents)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace, host: PluginHost) -> int:
    """List every plugin; in strict mode (for plugin development, CI) exit 1 when any has a problem,
    after listing them all."""
    records = host.plugins
    problems = host.problems()
    if args.json:
        write_json({"plugins": [_record_dict(record) for record in records], "problems": problems})
        return _strict_status(host, problems)
    if not records:
        write_text("no plugins found")
    else:
        rows = [
            (
                record.name,
                record.group,
                record.distribution or EMPTY_CELL,
                record.version or EMPTY_CELL,
                record.status.value,
                record.error or EMPTY_CELL,
            )
            for record in records
        ]
        write_text(format_table(("NAME", "GROUP", "DISTRIBUTION", "VERSION", "STATUS", "ERROR"), rows))
    if problems:
        write_text("\nproblems:\n" + "\n".join(f"  - {problem}" for problem in problems))
    return _strict_status(host, problems)


def _strict_status(host: PluginHost, problems: list[str]) -> int:
    if not (host.controls.strict and problems):
        return 0
    write_text(
        f"error: strict plugin checks ({STRICT_VAR}=1 or --strict-plugins) found {len(problems)} problem(s), "
        "listed above",
        sys.stderr,
    )
    return 1


def _record_dict(record: PluginRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "group": record.group,
        "value": record.value,
        "distribution": record.distribution,
        "version": record.version,
        "status": record.status.value,
        "error": record.error,
        "problems": list(record.problems),
        "provides": list(record.provides),
    }
