"""The whole extension surface of autodeploy: every hook a plugin may implement.

Registration hooks run once, when a plugin host collects what the installed plugins provide.
Each receives a `register` callable bound to the calling plugin, so that every key is attributed
to the plugin and distribution that provided it (duplicates are reported naming both).

Lifecycle hooks run while a pipeline runs. They observe; they may also act on the module in
place (attach metadata, dump, time), but must not replace it. Their return values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .markers import hookspec

if TYPE_CHECKING:
    from torch import nn

    from .attention_backend import AttentionBackend
    from .factory import ModelFactory
    from .records import RunReport, TransformRecord
    from .stages import Stages
    from .transform.base import BaseTransform


@hookspec
def autodeploy_register_transforms(register: Callable[[str, type[BaseTransform]], None]) -> None:
    """Register transforms: call ``register(key, TransformClass)`` once per transform.

    The key is what configs, modes and docs use. Called once per plugin host; keep it cheap
    (no torch import: listing transforms must stay fast).
    """


@hookspec
def autodeploy_register_factories(register: Callable[[str, type[ModelFactory]], None]) -> None:
    """Register model factories: call ``register(name, FactoryClass)``.

    The name is what a pipeline config's ``model_factory`` selects, e.g. ``AutoModelForCausalLM``.
    """


@hookspec
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Mapping[str, Any]]], None]) -> None:
    """Contribute to named preset pipelines: call ``register(mode, {key: entry, ...})``.

    Several plugins may contribute entries to the same mode (``graph``, ``transformers``, ...);
    the entries are merged by transform key. A key contributed to one mode by two plugins is a
    conflict and is reported.
    """


@hookspec
def autodeploy_before_stage(stage: Stages, mod: nn.Module, report: RunReport) -> None:
    """Called before the first transform of ``stage`` runs (stages with no entries are skipped)."""


@hookspec
def autodeploy_after_stage(stage: Stages, mod: nn.Module, report: RunReport) -> None:
    """Called after the last transform of ``stage`` ran; ``report`` holds every record so far."""


@hookspec
def autodeploy_before_transform(
    key: str, stage: Stages, transform: BaseTransform, mod: nn.Module, factory: ModelFactory | None
) -> None:
    """Called right before a transform runs (also when it is disabled and will be skipped)."""


@hookspec
def autodeploy_after_transform(key: str, stage: Stages, record: TransformRecord, mod: nn.Module) -> None:
    """Called after a transform ran, with its record (status, matches, time, memory)."""


@hookspec
def autodeploy_transform_error(
    key: str, stage: Stages, error: BaseException, record: TransformRecord, will_continue: bool
) -> None:
    """Called when a transform raised.

    ``will_continue`` is true when ``skip_on_error`` lets the pipeline go on; otherwise a
    `TransformError` is raised right after this hook returns.
    """


@hookspec
def autodeploy_register_attention_backends(register: Callable[[str, AttentionBackend], None]) -> None:
    """Register attention backends: call ``register(name, backend)`` with an `AttentionBackend`.

    ``insert_cached_attention`` (config ``backend``) and ``transformers_replace_cached_attn``
    look backends up by name: a backend brings its cached attention op, the per-step metadata it
    reads (asked of the sequence interface with ``cm.add_graph_input``) and its cache layout
    (``cm.add_cache``). ``pip install autodeploy-plugin-<backend>`` adds one. Keep it cheap (no
    torch import): build the backend object, import torch only when it is used.
    """


@hookspec(firstresult=True)
def autodeploy_resolve_model(name: str | None, cache_dir: str) -> str | None:
    """Turn a model name that is not a folder (``None`` for the built-in default, or a short
    name such as ``tiny-random``) into a local checkpoint folder, or return None to pass.

    Called by ``python -m autodeploy run`` before a factory is made. A plugin may prepare the
    folder under `cache_dir` on first use (written atomically: a folder renamed into place).
    The first non-None answer wins.
    """


@hookspec
def autodeploy_register_commands(register: Callable[..., None]) -> None:
    """Add subcommands to ``python -m autodeploy``: call
    ``register(name, help=..., run=..., add_arguments=None, description=None)`` once per command.

    ``add_arguments(parser)`` adds the command's options to its argparse parser; ``run(args,
    host)`` runs it and returns the exit status (None is 0). The command appears in
    ``python -m autodeploy --help``. Keep registering cheap and torch-free: import heavy modules
    inside ``run``. A name taken by a built-in command or by another plugin is reported as a
    plugin problem and the command is left out; the other commands keep working.
    """
