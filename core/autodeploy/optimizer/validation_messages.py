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

_INPUT_SHOULD_BE = "Input should be "
_PLAIN_PREFIXES = ("Value error, ", "Assertion failed, ")
_COMPARISONS = ("greater", "less", "at least", "at most")
_QUOTED = re.compile(r"'([^']*)'")
_MAX_REPR = 80


def config_error_from_validation(
    exc: ValidationError,
    *,
    prefix: Sequence[str] = (),
    source_of: Callable[[Sequence[str]], Optional[str]] = lambda path: None,
) -> ConfigError:
    """One `ConfigError` for a pydantic error: the first problem's path and source, all problems said.

    `prefix` is where the validated mapping sits in the config (``("transforms", "build_model")``);
    `source_of` names the config layer that set a path.
    """
    problems = exc.errors()
    first_path = (*prefix, *(str(part) for part in problems[0]["loc"]))
    message = describe_problem(problems[0])
    if len(problems) > 1:
        others = "; ".join(
            f"{'.'.join((*prefix, *(str(p) for p in problem['loc'])))}: {describe_problem(problem)}"
            for problem in problems[1:]
        )
        message = f"{message} (also: {others})"
    return ConfigError(message, source=source_of(first_path), path=".".join(first_path) or None)


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
    msg = problem["msg"]
    if kind == "enum":
        choices = _QUOTED.findall(problem.get("ctx", {}).get("expected", ""))
        best = closest_name(str(problem["input"]), choices) if choices else None
        hint = f"; did you mean {best!r}?" if best else ""
        return f"expected one of {', '.join(choices) or msg}, {given}{hint}"
    if msg.startswith(_INPUT_SHOULD_BE):
        expected = msg[len(_INPUT_SHOULD_BE) :]
        if expected.startswith(_COMPARISONS):  # "greater than 0" -> "a value greater than 0"
            expected = f"a value {expected}"
        return f"expected {expected}, {given}"
    for plain_prefix in _PLAIN_PREFIXES:
        if msg.startswith(plain_prefix):
            return f"{msg[len(plain_prefix) :]} ({given})"
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
