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


def add_check_options(parser: argparse.ArgumentParser) -> None:
    """``--strict`` and ``--allow-unavailable``: how hard the config checks are (`run`, `validate`)."""
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat every doubt as an error: unknown fields and top-level settings, unavailable transforms and "
        "backends (overrides --allow-unavailable)",
    )
    parser.add_argument(
        "--allow-unavailable",
        action="store_true",
        default=None,
        help="skip AutoDeploy transforms that no installed plugin provides (one warning lists them) and fall "
        "back to an installed attention or compile backend (also: `allow_unavailable: true` in a config)",
    )
