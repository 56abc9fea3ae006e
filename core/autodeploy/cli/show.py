"""``autodeploy show KEY``: what a transform does and every field its config accepts."""

from __future__ import annotations

import argparse
import inspect
import json
from typing import TYPE_CHECKING, Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ..plugin.transform_facts import facts_for
from .output import EMPTY_CELL, format_table, format_value, write_json, write_text

if TYPE_CHECKING:
    from ..plugin import PluginHost

NAME = "show"
HELP = "show a transform's description, config fields and JSON schema"


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP, parents=parents)
    parser.add_argument("key", help="the transform key, e.g. build_model")
    parser.add_argument("--json", action="store_true", help="print only the config's JSON schema")


def run(args: argparse.Namespace, host: PluginHost) -> int:
    transform_class = host.transform_class(args.key)
    config_class = transform_class.get_config_class()
    schema = config_class.model_json_schema()
    if args.json:
        write_json(schema)
        return 0
    facts = facts_for(host, args.key)
    provided_by = " ".join(part for part in (facts.distribution or facts.plugin, facts.version) if part)
    lines = [
        f"{facts.key}: {facts.module}.{facts.class_name}",
        f"stage: {', '.join(facts.stages) or EMPTY_CELL}    modes: {', '.join(facts.modes) or EMPTY_CELL}    "
        f"provided by: {provided_by}",
        "",
        inspect.getdoc(transform_class) or "(no description)",
        "",
        f"config: {config_class.__name__}",
        format_table(
            ("FIELD", "TYPE", "DEFAULT", "DESCRIPTION"),
            [_field_row(name, field) for name, field in config_class.model_fields.items()],
        ),
        "",
        "JSON schema:",
        json.dumps(schema, indent=2),
    ]
    write_text("\n".join(lines))
    return 0


def _field_row(name: str, field: FieldInfo) -> tuple[str, str, str, str]:
    return (name, type_name(field.annotation), _default(field), field.description or "")


def type_name(annotation: Any) -> str:
    """`str`, `Optional[str]`, `Stages`: the annotation without module prefixes."""
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return format_value(field.default_factory())  # type: ignore[call-arg]
    if field.default is PydanticUndefined:
        return EMPTY_CELL
    return format_value(field.default)
