"""Command-line options shared by the subcommands that build a pipeline config (`run`, `validate`)."""

from __future__ import annotations

import argparse


def add_set_option(parser: argparse.ArgumentParser, example: str) -> None:
    """``--set KEY.PATH=VALUE`` (repeatable, collected in ``args.overrides``), the last config layer."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help=f"override one setting, value in YAML (repeatable), e.g. {example}",
    )
