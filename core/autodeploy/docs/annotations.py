"""Type annotations, defaults and signatures as short, stable text for the reference pages.

`repr()` of typing objects is long (``typing.Optional[str]``), differs between Python versions
and, for defaults, may contain memory addresses; the pages must read well and must not change
unless the code does.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def format_annotation(annotation: Any) -> str:
    """``Optional[str]`` -> ``str | None``, ``typing.List[int]`` -> ``list[int]``, a class -> its name.

    String annotations (``from __future__ import annotations``) are shown as written.
    """
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    if isinstance(annotation, typing.ForwardRef):
        return annotation.__forward_arg__
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        return " | ".join(format_annotation(arg) for arg in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(_literal(arg) for arg in args)}]"
    if origin is typing.Annotated:
        return format_annotation(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        if not args:
            return name
        shown = ", ".join("..." if arg is Ellipsis else _argument(arg) for arg in args)
        return f"{name}[{shown}]"
    if inspect.isclass(annotation):
        return annotation.__qualname__
    return _ADDRESS.sub("", str(annotation).replace("typing.", ""))


def _argument(arg: Any) -> str:
    if isinstance(arg, list):  # Callable[[a, b], c]
        return f"[{', '.join(format_annotation(item) for item in arg)}]"
    return format_annotation(arg)


def _literal(value: Any) -> str:
    return repr(value.value) if isinstance(value, enum.Enum) else repr(value)


def format_default(value: Any) -> str:
    """A default as it would be written in Python, without memory addresses; enums by value."""
    if isinstance(value, enum.Enum):
        return repr(value.value)
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__qualname__
    return _ADDRESS.sub("", repr(value))


def format_factory_default(factory: Callable[[], Any]) -> str:
    """A ``default_factory`` shown as the value it makes when that is a plain value (``[]``),
    else as the factory's name."""
    if factory in (list, dict, set, tuple, str, int, float, bool):
        return format_default(factory())
    return f"{getattr(factory, '__qualname__', type(factory).__name__)}()"


def format_parameters(function: Callable[..., Any], *, skip_first: bool = False) -> list[str]:
    """Each parameter of `function` as ``name: annotation = default`` (``*args``, ``**kw`` kept)."""
    parameters = list(inspect.signature(function).parameters.values())
    if skip_first and parameters:
        parameters = parameters[1:]
    lines = []
    previous_kind = None
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and previous_kind not in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.VAR_POSITIONAL,
        ):
            lines.append("*")
        stars: dict[inspect._ParameterKind, str] = {
            inspect.Parameter.VAR_POSITIONAL: "*",
            inspect.Parameter.VAR_KEYWORD: "**",
        }
        prefix = stars.get(parameter.kind, "")
        text = f"{prefix}{parameter.name}"
        annotation = format_annotation(parameter.annotation)
        if annotation:
            text += f": {annotation}"
        if parameter.default is not inspect.Parameter.empty:
            text += f" = {format_default(parameter.default)}" if annotation else f"={format_default(parameter.default)}"
        lines.append(text)
        previous_kind = parameter.kind
    return lines


def format_return(function: Callable[..., Any]) -> str:
    """`` -> annotation`` of `function`, or an empty string when it has none."""
    annotation = format_annotation(inspect.signature(function).return_annotation)
    return f" -> {annotation}" if annotation else ""
