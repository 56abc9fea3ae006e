"""``autodeploy validate CONFIG.yaml``: merge, validate and order a pipeline without running it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..optimizer.overrides import TRANSFORMS_KEY
from ..optimizer.pipeline_config import PipelineConfig
from ..optimizer.pipeline_inputs import factory_class_of
from ..optimizer.resolve import resolve_pipeline
from ..optimizer.validation import PipelineEntry
from .config_options import add_check_options, add_set_option
from .output import format_table, format_value, write_json, write_text

if TYPE_CHECKING:
    from ..plugin import PluginHost

NAME = "validate"
HELP = "check a pipeline config and print the resolved, ordered pipeline"


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP, parents=parents)
    parser.add_argument("configs", nargs="+", metavar="CONFIG.yaml", help="YAML config files, merged in order")
    parser.add_argument(
        "--mode",
        help="the preset pipeline to start from (wins over `mode:` in the files, with a warning); "
        "default: `mode:` of the files, else graph",
    )
    add_set_option(parser, "transforms.build_model.device=cpu")
    add_check_options(parser)
    parser.add_argument("--json", action="store_true", help="print the resolved pipeline as JSON")


def run(args: argparse.Namespace, host: PluginHost) -> int:
    config, entries = resolve_pipeline(
        host,
        files=args.configs,
        overrides=args.overrides,
        mode=args.mode,
        strict=args.strict,
        allow_unavailable=args.allow_unavailable,
    )
    if "model_factory" in config.model_fields_set:
        factory_class_of(host, config)  # a factory named by the user must exist and be usable
    if args.json:
        write_json(
            {
                "mode": config.mode,
                "transforms": [
                    {
                        "key": entry.key,
                        "sources": config.sources_under((TRANSFORMS_KEY, entry.key)),
                        # python mode: values YAML allows but JSON lacks (bytes, sets, dates) go through str
                        "config": entry.config.model_dump(mode="python"),
                    }
                    for entry in entries
                ],
            }
        )
        return 0
    if entries:
        rows = [_row(position, entry, config) for position, entry in enumerate(entries, start=1)]
        write_text(format_table(("#", "STAGE", "KEY", "ENABLED", "FROM", "SETTINGS"), rows))
    stages = len({entry.stage for entry in entries})
    mode = f", mode {config.mode}" if config.mode else ""
    write_text(f"OK: {len(entries)} transform(s) in {stages} stage(s){mode}")
    return 0


def _row(position: int, entry: PipelineEntry, config: PipelineConfig) -> tuple[str, str, str, str, str, str]:
    settings = entry.config.model_dump(exclude_unset=True, exclude={"stage", "enabled"})
    return (
        str(position),
        entry.stage.value,
        entry.key,
        "yes" if entry.config.enabled else "no",
        " + ".join(config.sources_under((TRANSFORMS_KEY, entry.key))),
        " ".join(f"{name}={format_value(value)}" for name, value in settings.items()),
    )
