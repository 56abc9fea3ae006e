"""Gather what the reference documents from a plugin host, as plain data in a stable order.

Everything comes from the code of the loaded plugins (classes, docstrings, config schemas,
modes) and of the core (stages, config classes, hook specifications): the reference is always
what is installed. Nothing here imports torch: transform and config classes are torch-free by
rule, and docstrings and schemas are read without running anything.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .. import hookspecs
from ..config import SharedConfig, TransformConfig, TransformInfo
from ..errors import AutodeployError
from ..markers import PROJECT_NAME
from ..naming import title_from_key
from ..plugin.loader import ENTRY_POINT_GROUPS
from ..plugin.transform_facts import TransformFacts, transform_facts
from ..stages import Stages
from ..transform.base import BaseTransform
from .annotations import (
    format_annotation,
    format_default,
    format_factory_default,
    format_parameters,
    format_return,
)
from .wording import STAGE_PURPOSE, stage_title

if TYPE_CHECKING:
    from ..plugin import PluginHost, Provider

SCHEMA_INDENT = 3  # as in AutoDeploy's reference pages
NO_DOCSTRING = "(No docstring.)"
# what a transform author implements or overrides
BASE_TRANSFORM_METHODS = ("get_config_class", "_apply", "_apply_to_full_model")


@dataclass(frozen=True)
class FieldDoc:
    """One field of a config class; `default` is None when the field is required."""

    name: str
    type: str
    default: Optional[str]
    description: str
    declared_by: str


@dataclass(frozen=True)
class ModelDoc:
    """A pydantic model (a transform's config class, or a core model such as `TransformInfo`)."""

    name: str
    module: str
    bases: tuple[str, ...]
    docstring: str
    settings: tuple[tuple[str, str], ...]
    schema_json: str
    fields: tuple[FieldDoc, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class MethodDoc:
    name: str
    kind: str  # "classmethod", "staticmethod" or "method"
    parameters: tuple[str, ...]
    returns: str
    docstring: str


@dataclass(frozen=True)
class TransformDoc:
    """One registered transform, as its reference section shows it."""

    key: str
    title: str
    stage: Optional[Stages]
    module: str
    class_name: str
    bases: tuple[str, ...]
    init_parameters: tuple[str, ...]
    docstring: str
    get_config_class: MethodDoc
    config: ModelDoc
    modes: tuple[str, ...]
    provided_by: str

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.class_name}"


@dataclass(frozen=True)
class StageDoc:
    stage: Stages
    title: str
    purpose: str
    transforms: tuple[TransformDoc, ...]


@dataclass(frozen=True)
class HookDoc:
    """One hook specification: what a plugin implements to take part."""

    name: str
    parameters: tuple[str, ...]
    returns: str
    docstring: str
    firstresult: bool
    historic: bool


@dataclass(frozen=True)
class ModeDoc:
    """A named preset pipeline: its transform keys in the order the pipeline runs them."""

    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """Everything the reference pages show, ready to render."""

    stages: tuple[StageDoc, ...]
    unstaged: tuple[TransformDoc, ...]
    modes: tuple[ModeDoc, ...]
    hooks: tuple[HookDoc, ...]
    core_models: tuple[ModelDoc, ...]
    base_methods: tuple[MethodDoc, ...]
    entry_point_groups: tuple[str, ...]

    @property
    def transforms(self) -> tuple[TransformDoc, ...]:
        return tuple(doc for stage in self.stages for doc in stage.transforms) + self.unstaged


def collect_reference(host: PluginHost) -> Reference:
    """The documentation model of everything `host` has loaded, plus the core's contract.

    Transforms are ordered as ``list-transforms`` orders them: by the first stage a mode runs
    them in, then by key.
    """
    modes = host.modes()
    providers = host.transforms()
    transforms = [_transform_doc(facts, providers[facts.key]) for facts in transform_facts(host)]
    transforms.sort(key=lambda doc: (_stage_rank(doc.stage), doc.key))
    stages = tuple(
        StageDoc(
            stage=stage,
            title=stage_title(stage),
            purpose=STAGE_PURPOSE[stage],
            transforms=tuple(doc for doc in transforms if doc.stage is stage),
        )
        for stage in Stages
    )
    return Reference(
        stages=stages,
        unstaged=tuple(doc for doc in transforms if doc.stage is None),
        modes=tuple(_mode_doc(name, entries) for name, entries in sorted(modes.items())),
        hooks=collect_hooks(),
        core_models=tuple(model_doc(model) for model in (TransformConfig, TransformInfo, SharedConfig)),
        base_methods=tuple(_method_doc(BaseTransform, name) for name in BASE_TRANSFORM_METHODS),
        entry_point_groups=ENTRY_POINT_GROUPS,
    )


def collect_hooks() -> tuple[HookDoc, ...]:
    """Every hook specification of the core, in the order `hookspecs.py` defines them."""
    marker = f"{PROJECT_NAME}_spec"
    hooks = []
    for name, function in vars(hookspecs).items():
        options = getattr(function, marker, None)
        if options is None or not inspect.isfunction(function):
            continue
        hooks.append(
            HookDoc(
                name=name,
                parameters=tuple(format_parameters(function)),
                returns=format_return(function),
                docstring=_docstring(function),
                firstresult=bool(options.get("firstresult")),
                historic=bool(options.get("historic")),
            )
        )
    return tuple(hooks)


def model_doc(model: type[BaseModel]) -> ModelDoc:
    """A pydantic model's name, docstring, settings, JSON schema and fields."""
    try:
        schema = model.model_json_schema()
    except Exception as exc:  # noqa: BLE001 - plugin code: say which class, not a bare traceback
        raise AutodeployError(
            f"cannot document {model.__module__}.{model.__qualname__}: its JSON schema does not render "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return ModelDoc(
        name=model.__qualname__,
        module=model.__module__,
        bases=tuple(base.__qualname__ for base in model.__bases__),
        docstring=_docstring(model),
        settings=tuple(
            (name, format_default(value))
            for name, value in sorted(model.model_config.items())
            if name not in ("title", "json_schema_extra")
        ),
        schema_json=json.dumps(schema, indent=SCHEMA_INDENT, ensure_ascii=False),
        fields=tuple(_field_doc(model, name, info) for name, info in sorted(model.model_fields.items())),
    )


def _transform_doc(facts: TransformFacts, provider: Provider) -> TransformDoc:
    cls = provider.obj
    config_class = cls.get_config_class()
    stage = Stages(facts.stages[0]) if facts.stages else _default_stage(config_class)
    return TransformDoc(
        key=facts.key,
        title=title_from_key(facts.key),
        stage=stage,
        module=facts.module,
        class_name=facts.class_name,
        bases=tuple(base.__qualname__ for base in cls.__bases__),
        init_parameters=tuple(format_parameters(cls)),
        docstring=_docstring(cls),
        get_config_class=_method_doc(cls, "get_config_class"),
        config=model_doc(config_class),
        modes=tuple(sorted(facts.modes)),
        provided_by=facts.distribution or f"{facts.plugin} (in-process)",
    )


def _mode_doc(name: str, entries: Mapping[str, Mapping[str, Any]]) -> ModeDoc:
    # the optimizer runs by stage, stably within a stage: show the keys in that order
    ordered = sorted(
        enumerate(entries),
        key=lambda item: (_stage_rank(_entry_stage(entries[item[1]])), item[0]),
    )
    return ModeDoc(name=name, keys=tuple(key for _, key in ordered))


def _stage_rank(stage: Optional[Stages]) -> int:
    return stage.rank if stage is not None else len(Stages)


def _entry_stage(entry: Mapping[str, Any]) -> Optional[Stages]:
    value = entry.get("stage") if isinstance(entry, Mapping) else None
    if isinstance(value, Stages):
        return value
    try:
        return Stages(value) if value is not None else None
    except ValueError:
        return None


def _default_stage(config_class: type[TransformConfig]) -> Optional[Stages]:
    """A config class may fix its transform's stage with a default; most leave it to the modes."""
    default = config_class.model_fields["stage"].default
    return default if isinstance(default, Stages) else None


def _method_doc(cls: type, name: str) -> MethodDoc:
    raw = inspect.getattr_static(cls, name)
    kind = (
        "classmethod" if isinstance(raw, classmethod) else "staticmethod" if isinstance(raw, staticmethod) else "method"
    )
    bound = getattr(cls, name)
    return MethodDoc(
        name=name,
        kind=kind,
        parameters=tuple(format_parameters(bound, skip_first=kind == "method")),
        returns=format_return(bound),
        docstring=inspect.getdoc(bound) or NO_DOCSTRING,
    )


def _field_doc(model: type[BaseModel], name: str, info: Any) -> FieldDoc:
    if info.is_required():
        default = None
    elif info.default_factory is not None:
        default = format_factory_default(info.default_factory)
    elif info.default is PydanticUndefined:
        default = None
    else:
        default = format_default(info.default)
    return FieldDoc(
        name=name,
        type=format_annotation(info.annotation),
        default=default,
        description=" ".join((info.description or "").split()),
        declared_by=_declared_by(model, name),
    )


def _declared_by(model: type[BaseModel], name: str) -> str:
    """The most derived class that annotates field `name` (where its current definition is)."""
    for klass in model.__mro__:
        if name in inspect.get_annotations(klass):
            return klass.__qualname__
    return model.__qualname__


def _docstring(obj: Any) -> str:
    """The object's own docstring, cleaned; a class without one does not borrow its base's."""
    raw = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    if not raw or not isinstance(raw, str):
        return NO_DOCSTRING
    return inspect.cleandoc(raw)
