"""pydantic validation errors, said in plain words with the config path they belong to.

pydantic's messages ("Input should be a valid boolean, unable to interpret input") are written
for programmers and do not say which field of which file is wrong. Config errors must read
``<file>: transforms.build_model.enabled: expected a valid boolean, got 'maybe' (string)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Optional

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import ConfigError
from ..stages import Stages
from .suggestions import closest_name

# what a value of each pydantic error type should have been (keyed on the error's `type`, which
# is pydantic's stable contract, never on its English message)
_EXPECTED_BY_TYPE = {
    "bool_type": "a valid boolean",
    "bool_parsing": "a valid boolean",
    "int_type": "a valid integer",
    "int_parsing": "a valid integer",
    "int_parsing_size": "a valid integer",
    "int_from_float": "a valid integer (no fractional part)",
    "float_type": "a valid number",
    "float_parsing": "a valid number",
    "finite_number": "a finite number",
    "string_type": "a valid string",
    "dict_type": "a valid dictionary",
    "model_type": "a valid dictionary",
    "model_attributes_type": "a valid dictionary",
    "list_type": "a valid list",
    "tuple_type": "a valid tuple",
    "none_required": "null",
}
# comparison errors: the `ctx` key holding the bound, and how to say it
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "greater than or equal to"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "less than or equal to"),
    "multiple_of": ("multiple_of", "a multiple of"),
}
_OWN_MESSAGE_TYPES = ("value_error", "assertion_error")  # a validator's own exception, in ctx["error"]
_QUOTED = re.compile(r"'([^']*)'")
_MAX_REPR = 80


def config_errors_from_validation(
    exc: ValidationError,
    *,
    prefix: Sequence[str] = (),
    source_of: Callable[[Sequence[str]], Optional[str]] = lambda path: None,
) -> list[ConfigError]:
    """One `ConfigError` per pydantic error, each with its own path and source (to report them all)."""
    errors = []
    for problem in exc.errors():
        path = (*prefix, *(str(part) for part in problem["loc"]))
        errors.append(ConfigError(describe_problem(problem), source=source_of(path), path=".".join(path) or None))
    return errors


def is_missing_stage(error: ConfigError) -> bool:
    """Whether `error` says that a transform entry has no `stage` (reported as a group of its own)."""
    return error.path is not None and error.path.endswith(".stage") and error.message.startswith("required field")


def describe_problem(problem: ErrorDetails) -> str:
    """One pydantic error in words: what was expected, what was given."""
    kind = problem["type"]
    field = str(problem["loc"][-1]) if problem["loc"] else ""
    if kind == "missing":
        hint = f" (one of: {', '.join(stage.value for stage in Stages)})" if field == "stage" else ""
        return f"required field {field!r} is missing{hint}"
    if kind == "extra_forbidden":
        return "unknown field, not allowed here"
    given = f"got {_short_repr(problem['input'])} ({yaml_type_name(problem['input'])})"
    ctx = problem.get("ctx") or {}
    if kind == "enum":
        choices = _QUOTED.findall(str(ctx.get("expected", "")))
        best = closest_name(str(problem["input"]), choices) if choices else None
        hint = f"; did you mean {best!r}?" if best else ""
        return f"expected one of {', '.join(choices) or ctx.get('expected')}, {given}{hint}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, {given}"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        return f"expected a value {words} {ctx.get(bound)}, {given}"
    if kind in _EXPECTED_BY_TYPE:
        return f"expected {_EXPECTED_BY_TYPE[kind]}, {given}"
    if kind in _OWN_MESSAGE_TYPES and "error" in ctx:
        return f"{ctx['error']} ({given})"
    msg = problem["msg"]  # any other type: pydantic's own words, as they are
    return f"{msg[:1].lower()}{msg[1:]} ({given})"


def yaml_type_name(value: Any) -> str:
    """The type of a config value as a YAML user would call it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else f"{text[: _MAX_REPR - 3]}..."
