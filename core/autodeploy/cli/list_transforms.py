"""``autodeploy list-transforms``: every usable transform, where it runs and who provides it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..plugin.transform_facts import transform_facts
from ..stages import Stages
from .autodeploy_coverage import print_coverage
from .output import EMPTY_CELL, format_table, write_json, write_text

if TYPE_CHECKING:
    from ..plugin import PluginHost

NAME = "list-transforms"
HELP = "list the installed transforms, by stage"


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP, parents=parents)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--stage", choices=[stage.value for stage in Stages], help="only transforms that a mode runs in this stage"
    )
    parser.add_argument(
        "--autodeploy",
        action="store_true",
        help="list AutoDeploy's transform keys instead: which installed plugin provides each, which are "
        "unavailable, and the counts",
    )


def run(args: argparse.Namespace, host: PluginHost) -> int:
    if args.autodeploy:
        return print_coverage(host, as_json=args.json, stage=args.stage)
    facts = transform_facts(host)
    if args.stage:
        facts = [fact for fact in facts if args.stage in fact.stages]
    if args.json:
        write_json({"transforms": [fact.to_dict() for fact in facts]})
        return 0
    if not facts:
        write_text(
            "no transforms" + (f" in stage {args.stage}" if args.stage else "") + " (see `autodeploy list-plugins`)"
        )
        return 0
    rows = [
        (
            fact.key,
            ",".join(fact.stages) or EMPTY_CELL,
            ",".join(fact.modes) or EMPTY_CELL,
            fact.distribution or fact.plugin,
            fact.version or EMPTY_CELL,
            fact.module,
        )
        for fact in facts
    ]
    write_text(format_table(("KEY", "STAGE", "MODES", "PROVIDED BY", "VERSION", "MODULE"), rows))
    return 0
