"""Checks on what a plugin registers, so that a bad registration fails at registration time,
named and attributed, rather than deep inside a pipeline run.

Each check returns the reason a registration is unusable, or None. Checks do not raise: the
registry records the reason on the plugin and goes on with the next registration.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any, Optional

from ..config import TransformConfig
from ..factory import ModelFactory
from ..transform.base import BaseTransform
from .records import describe_exception

# A key must survive YAML, `--set a.b=c` and docs anchors as is: no spaces, quotes or colons.
KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _qualname(obj: Any) -> str:
    if inspect.isclass(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    return f"{obj!r:.60} (an instance of {type(obj).__qualname__}, not a class)"


def key_problem(kind: str, key: Any) -> Optional[str]:
    """Why `key` cannot name a `kind` (transform, factory, mode) in a config, or None."""
    if not isinstance(key, str):
        return f"{kind} key {key!r} is a {type(key).__name__}, not a string"
    if not KEY_PATTERN.match(key):
        return f"{kind} key {key!r} is not a plain YAML key (letters, digits, '_', '.', '-'; not starting with a digit)"
    return None


def transform_problem(key: Any, obj: Any) -> Optional[str]:
    """Why `obj` cannot be used as the transform `key`, or None when it can."""
    problem = key_problem("transform", key)
    if problem:
        return problem
    if not inspect.isclass(obj) or not issubclass(obj, BaseTransform):
        return f"transform {key!r}: {_qualname(obj)} is not a subclass of autodeploy.BaseTransform"
    try:
        config_class = obj.get_config_class()
    except Exception as exc:  # noqa: BLE001 - plugin code; reported, not raised
        return f"transform {key!r}: {_qualname(obj)}.get_config_class() raised {describe_exception(exc)}"
    if not inspect.isclass(config_class) or not issubclass(config_class, TransformConfig):
        return (
            f"transform {key!r}: {_qualname(obj)}.get_config_class() returned {_qualname(config_class)}, "
            "which does not derive autodeploy.TransformConfig"
        )
    try:
        config_class.model_json_schema()
    except Exception as exc:  # noqa: BLE001 - an unrenderable schema breaks docs and validation
        return f"transform {key!r}: the JSON schema of {_qualname(config_class)} does not render: {describe_exception(exc)}"
    return None


def factory_problem(name: Any, obj: Any) -> Optional[str]:
    """Why `obj` cannot be used as the model factory `name`, or None when it can."""
    problem = key_problem("factory", name)
    if problem:
        return problem
    if not inspect.isclass(obj) or not issubclass(obj, ModelFactory):
        return f"factory {name!r}: {_qualname(obj)} is not a subclass of autodeploy.ModelFactory"
    return None


def attention_backend_problem(name: Any, obj: Any) -> Optional[str]:
    """Why `obj` cannot be used as the attention backend `name`, or None when it can."""
    from ..attention_backend import AttentionBackend

    problem = key_problem("attention backend", name)
    if problem:
        return problem
    if not isinstance(obj, AttentionBackend):
        return f"attention backend {name!r}: {_qualname(obj)} is not an autodeploy.AttentionBackend instance"
    return None


def split_mode_entries(mode: Any, entries: Any) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The usable entries of a mode contribution and the reasons for dropping the others.

    A mode is a mapping of transform key -> entry mapping (``{"stage": ..., ...}``). Entries are
    not checked against the transforms' config classes here: a mode may name transforms of other
    plugins, and the optimizer validates the merged pipeline with every class at hand.
    """
    problem = key_problem("mode", mode)
    if problem:
        return {}, [problem]
    if not isinstance(entries, Mapping):
        return {}, [f"mode {mode!r}: expected a mapping of transform key -> entry, got {type(entries).__name__}"]
    usable: dict[str, dict[str, Any]] = {}
    problems = []
    for key, entry in entries.items():
        key_issue = key_problem("transform", key)
        if key_issue:
            problems.append(f"mode {mode!r}: {key_issue}")
        elif not isinstance(entry, Mapping):
            problems.append(f"mode {mode!r}: the entry of {key!r} is a {type(entry).__name__}, not a mapping")
        else:
            usable[key] = dict(entry)
    return usable, problems
