"""``autodeploy new-plugin NAME``: scaffold a plugin distribution (see `autodeploy.scaffold`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .output import write_text

if TYPE_CHECKING:
    from ..plugin import PluginHost

NAME = "new-plugin"
HELP = "create a new plugin distribution with one transform, its config and its tests"


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP, parents=parents)
    parser.add_argument("name", help="the plugin's name, which is also its transform key, e.g. fold_scales")
    parser.add_argument(
        "--dir", type=Path, default=Path("."), help="where to create the autodeploy-plugin-NAME folder (default: .)"
    )


def run(args: argparse.Namespace, host: PluginHost) -> int:
    from ..scaffold import PluginNames, scaffold_plugin

    taken = {key: provider.plugin.distribution or provider.plugin.name for key, provider in host.transforms().items()}
    target = scaffold_plugin(args.name, args.dir, taken_keys=taken)
    names = PluginNames.from_name(args.name)
    write_text(
        f"created {target}\n"
        "next:\n"
        f"  pip install -e {target}\n"
        f"  python -m autodeploy list-transforms     # {names.key} is listed, provided by {names.distribution}\n"
        f"  python -m pytest {target}"
    )
    return 0
