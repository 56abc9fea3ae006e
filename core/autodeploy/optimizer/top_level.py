"""AutoDeploy's top-level options, honoured: the shortcuts onto transforms, and the keys we know.

AutoDeploy users write settings such as ``compile_backend: torch-compile``, ``attn_backend``,
``cuda_graph_batch_sizes`` or ``world_size: 2`` next to ``transforms:``. Each either changes the
pipeline (a shortcut onto a transform's field, as AutoDeploy's ``LlmArgs`` does: the shortcut wins
over the transform's own value), or is refused with a reason (``world_size`` while no sharding
transform is installed), or is said once to have no effect here (``runtime``, CUDA graph sizes on
CPU). A key nobody knows is a warning naming it, an error under ``--strict``: it is a typo or a
setting from another tool, and silently dropping it is how a user's intent gets lost.

The experiment layout of AutoDeploy's example script (``model:`` + ``args:`` nesting, with
``prompt:``, ``benchmark:``, ``dry_run:``) is read too: ``args:`` is lifted to the top level.
"""

from __future__ import annotations

import logging
import typing
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional

from ..catalogue import autodeploy_catalogue
from ..errors import ConfigError
from .overrides import TRANSFORMS_KEY, Override
from .problems import ProblemKind, ProblemList
from .validation import ConfigWarning

if TYPE_CHECKING:
    from ..plugin import PluginHost
    from .pipeline_config import PipelineConfig

logger = logging.getLogger("autodeploy.optimizer")

ARGS_KEY = "args"

EXPERIMENT_ONLY_KEYS = ("prompt", "benchmark", "dry_run")
"""Keys of AutoDeploy's experiment layout that describe what its script does after building."""

NOT_USED_HERE = {
    "tokenizer_kwargs": "tokenizer options are not passed on by this runtime",
    "runtime": "autodeploy runs the model itself",
    "attn_page_size": "the attention backends here do not page",
    "kv_cache_config": "cache sizing is the cache_init transforms' config",
    "yaml_extra": "give the files on the command line instead (later files win)",
    "prompt": "the experiment's prompt: use `run --prompt`",
    "benchmark": "the experiment's benchmark: use `nox -s bench`",
    "dry_run": "use `autodeploy validate`",
}
"""AutoDeploy keys that are understood but change nothing here, and why (said once, at info level)."""

COMPILE_KEY = "compile_model"
CACHED_ATTENTION_KEYS = ("insert_cached_attention", "transformers_replace_cached_attn")
SHARDING_KEYS = ("detect_sharding", "sharding_transform_executor")
CUDA_GRAPH_BACKENDS = ("torch-cudagraph", "torch-opt")
PREFERRED_BACKENDS = {"attn_backend": "torch", "compile_backend": "torch-simple"}


def lift_experiment_layout(layer: Mapping[str, Any], source: str, problems: ProblemList) -> Mapping[str, Any]:
    """``{model: m, args: {...}, prompt: ...}`` -> ``{model: m, ...args, prompt: ...}`` (outer keys win)."""
    if ARGS_KEY not in layer:
        return layer
    args = layer[ARGS_KEY]
    if not isinstance(args, Mapping):
        problems.add(
            ProblemKind.TOP_LEVEL,
            ConfigError(
                f"`args:` must be a mapping of settings (AutoDeploy's experiment layout), got {args!r}",
                source=source,
                path=ARGS_KEY,
            ),
        )
        return {key: value for key, value in layer.items() if key != ARGS_KEY}
    return {**args, **{key: value for key, value in layer.items() if key != ARGS_KEY}}


def lift_experiment_override(override: Override) -> Override:
    """``--set args.max_seq_len=64`` means ``--set max_seq_len=64``."""
    if len(override.path) > 1 and override.path[0] == ARGS_KEY:
        return Override(text=override.text, path=override.path[1:], value=override.value)
    return override


def apply_top_level(
    config: PipelineConfig,
    host: PluginHost,
    problems: ProblemList,
    *,
    strict: bool = False,
    allow_unavailable: Optional[bool] = None,
) -> PipelineConfig:
    """The config with AutoDeploy's top-level shortcuts applied to its transforms; problems collected."""
    allow = bool(config.allow_unavailable if allow_unavailable is None else allow_unavailable) and not strict
    transforms = {key: dict(entry) if isinstance(entry, Mapping) else entry for key, entry in config.transforms.items()}
    updates: dict[str, Any] = {}
    _world_size(config, host, problems, updates)
    _compile_backend(config, host, problems, transforms, allow=allow)
    _attn_backend(config, host, problems, transforms, allow=allow)
    _entry_attn_backends(config, host, problems, transforms, allow=allow)
    _cuda_graph_batch_sizes(config, problems, transforms)
    _other_keys(config, host, problems, strict=strict)
    updates[TRANSFORMS_KEY] = transforms
    resolved = config.model_copy(update=updates)
    resolved._validated = {}
    return resolved


def autodeploy_batch_sizes(given: Optional[Sequence[int]], max_batch_size: int) -> list[int]:
    """CUDA graph batch sizes as AutoDeploy settles them: the given ones up to `max_batch_size`, or
    when none are given 1, `max_batch_size`, every 16th up to 128 and every 128th beyond; largest first."""
    if given is None:
        sizes = {1, max_batch_size}
        sizes.update(range(1, min(128, max_batch_size) + 1, 16))
        sizes.update(range(128, max_batch_size + 1, 128))
    else:
        sizes = {size for size in given if size <= max_batch_size}
    return sorted(sizes, reverse=True)


def _set_field(config: PipelineConfig, transforms: dict[str, Any], key: str, field: str, value: Any, by: str) -> None:
    entry = transforms.get(key)
    if not isinstance(entry, dict):
        return
    entry[field] = value
    config._sources.set_source((TRANSFORMS_KEY, key, field), config.source_of(by))


def _world_size(config: PipelineConfig, host: PluginHost, problems: ProblemList, updates: dict[str, Any]) -> None:
    given = config.model_fields_set
    world, tp = config.world_size, config.tensor_parallel_size
    if tp is not None and "world_size" in given and tp != world:
        problems.add(
            ProblemKind.TOP_LEVEL,
            ConfigError(
                f"tensor_parallel_size {tp} and world_size {world} disagree; AutoDeploy parallelises by world_size "
                "alone: give one of them",
                source=config.source_of("tensor_parallel_size"),
                path="tensor_parallel_size",
            ),
        )
        return
    ranks = tp if tp is not None else world
    by = "tensor_parallel_size" if tp is not None else "world_size"
    if ranks > 1 and not any(key in host.transforms() for key in SHARDING_KEYS):
        problems.add(
            ProblemKind.TOP_LEVEL,
            ConfigError(
                f"{by} {ranks} asks for {ranks} ranks, but no installed plugin provides a sharding transform "
                f"({', '.join(SHARDING_KEYS)}), so every rank would hold the whole model; install one, then "
                f"launch with `torchrun --nproc-per-node {ranks} -m autodeploy run ...` (torchrun starts the ranks), "
                f"or set {by}: 1",
                source=config.source_of(by),
                path=by,
            ),
        )
    updates["world_size"] = ranks


def _installed_backends(host: PluginHost, key: str) -> Optional[list[str]]:
    """The backend names transform `key` accepts (its config's ``backend`` choices), None if it does not say."""
    lister = getattr(host, "attention_backends", None)
    if key in CACHED_ATTENTION_KEYS and callable(lister):
        return sorted(lister())
    try:
        field = host.transform_class(key).get_config_class().model_fields.get("backend")
    except Exception:  # noqa: BLE001 - an unusable transform is reported by validation, not here
        return None
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return None
    return [str(choice) for choice in typing.get_args(field.annotation)]


def _backend_choice(
    config: PipelineConfig,
    host: PluginHost,
    problems: ProblemList,
    option: str,
    key: str,
    wanted: str,
    *,
    allow: bool,
    path: Optional[str] = None,
) -> Optional[str]:
    """`wanted`, or with `allow` an installed stand-in (warned about); None after a problem.

    `option` is the top-level shortcut (``attn_backend``) whose fallback rule applies; `path` is
    where `wanted` was written when it is a transform's own field (``transforms.<key>.backend``).
    """
    installed = _installed_backends(host, key)
    if installed is None or wanted in installed:
        return wanted
    path = path or option
    source = config.source_of(path)
    preferred = PREFERRED_BACKENDS[option]
    if allow and installed:
        stand_in = preferred if preferred in installed else installed[0]
        message = (
            f"{path} {wanted!r} is not installed (installed for {key}: {', '.join(installed)}); "
            f"using {stand_in!r} instead (allow_unavailable)"
        )
        warnings.warn(f"{source}: {message}", ConfigWarning, stacklevel=4)
        return stand_in
    problems.add(
        ProblemKind.TOP_LEVEL if path == option else ProblemKind.VALUE,
        ConfigError(
            f"{option if path == option else 'backend'} {wanted!r} is not installed "
            f"(installed for {key}: {', '.join(installed) or 'none'}); --allow-unavailable falls back to {preferred!r}",
            source=source,
            path=path,
        ),
    )
    return None


def _compile_backend(
    config: PipelineConfig, host: PluginHost, problems: ProblemList, transforms: dict[str, Any], *, allow: bool
) -> None:
    wanted = config.compile_backend
    if wanted is None:
        return
    if COMPILE_KEY not in transforms or COMPILE_KEY not in host.transforms():
        logger.info("compile_backend %r not used: the pipeline has no usable %s entry", wanted, COMPILE_KEY)
        return
    backend = _backend_choice(config, host, problems, "compile_backend", COMPILE_KEY, wanted, allow=allow)
    if backend is not None:
        _set_field(config, transforms, COMPILE_KEY, "backend", backend, "compile_backend")


def _attn_backend(
    config: PipelineConfig, host: PluginHost, problems: ProblemList, transforms: dict[str, Any], *, allow: bool
) -> None:
    wanted = config.attn_backend
    if wanted is None:
        return
    targets = [key for key in CACHED_ATTENTION_KEYS if key in transforms and key in host.transforms()]
    if not targets:
        logger.info(
            "attn_backend %r not used: no cached-attention transform (%s) is installed and in the pipeline",
            wanted,
            ", ".join(CACHED_ATTENTION_KEYS),
        )
        return
    for key in targets:
        backend = _backend_choice(config, host, problems, "attn_backend", key, wanted, allow=allow)
        if backend is None:
            return
        _set_field(config, transforms, key, "backend", backend, "attn_backend")


def _entry_attn_backends(
    config: PipelineConfig, host: PluginHost, problems: ProblemList, transforms: dict[str, Any], *, allow: bool
) -> None:
    """A cached-attention entry's own ``backend:`` (AutoDeploy's presets say ``flashinfer``) must be
    installed too: checked now, with the other problems, not when the pipeline reaches cache_init."""
    if config.attn_backend is not None:
        return  # the shortcut has set (and checked) every entry's backend
    for key in CACHED_ATTENTION_KEYS:
        entry = transforms.get(key)
        if not isinstance(entry, dict) or entry.get("enabled", True) is False or key not in host.transforms():
            continue
        wanted = entry.get("backend")
        if not isinstance(wanted, str):
            continue  # the default, or a bad value the transform's own validation names
        path = f"{TRANSFORMS_KEY}.{key}.backend"
        backend = _backend_choice(config, host, problems, "attn_backend", key, wanted, allow=allow, path=path)
        if backend is not None and backend != wanted:
            entry["backend"] = backend


def _cuda_graph_batch_sizes(config: PipelineConfig, problems: ProblemList, transforms: dict[str, Any]) -> None:
    shortcut = config.cuda_graph_batch_sizes
    nested = config.cuda_graph_config.batch_sizes if config.cuda_graph_config is not None else None
    by = "cuda_graph_batch_sizes"
    if nested is not None:
        if shortcut is not None and sorted(set(shortcut)) != sorted(set(nested)):
            problems.add(
                ProblemKind.TOP_LEVEL,
                ConfigError(
                    f"cuda_graph_batch_sizes {shortcut} and cuda_graph_config.batch_sizes {nested} disagree; give one",
                    source=config.source_of(by),
                    path=by,
                ),
            )
            return
        shortcut, by = nested, "cuda_graph_config.batch_sizes"
    entry = transforms.get(COMPILE_KEY)
    if not isinstance(entry, dict):
        if shortcut is not None:
            logger.info("%s not used: the pipeline has no %s entry", by, COMPILE_KEY)
        return
    given = shortcut if shortcut is not None else entry.get("cuda_graph_batch_sizes")
    uses_graphs = entry.get("backend") in CUDA_GRAPH_BACKENDS
    if given is None and not uses_graphs:
        return
    if given is not None and (not isinstance(given, list) or not all(isinstance(size, int) for size in given)):
        return  # the transform's own validation says what is wrong with it
    sizes = autodeploy_batch_sizes(given, config.max_batch_size)
    dropped = sorted(set(given or ()) - set(sizes))
    if dropped:
        logger.info("cuda graph batch sizes %s dropped: above max_batch_size %d", dropped, config.max_batch_size)
    if not config.device.startswith("cuda"):
        logger.info("%s %s has no effect on %s (CUDA graphs need CUDA)", by, sizes, config.device)
    if shortcut is not None:
        _set_field(config, transforms, COMPILE_KEY, "cuda_graph_batch_sizes", sizes, by.split(".")[0])
    else:
        entry["cuda_graph_batch_sizes"] = sizes


def _other_keys(config: PipelineConfig, host: PluginHost, problems: ProblemList, *, strict: bool) -> None:
    extra = config.unused_keys()
    transform_keys = set(host.transforms()) | set(autodeploy_catalogue().transforms)
    unknown: list[str] = []
    for key in extra:
        if key in transform_keys:
            problems.add(
                ProblemKind.TOP_LEVEL,
                ConfigError(
                    f"{key!r} is a transform key at the top level; transform entries go under `transforms:`",
                    source=config.source_of([key]),
                    path=key,
                ),
            )
        elif key not in NOT_USED_HERE:
            unknown.append(key)
    known = [key for key in extra if key in NOT_USED_HERE]
    if known:
        logger.info(
            "top-level settings with no effect here: %s", "; ".join(f"{key} ({NOT_USED_HERE[key]})" for key in known)
        )
    if not unknown:
        return
    if strict:
        for key in unknown:
            problems.add(
                ProblemKind.TOP_LEVEL,
                ConfigError(
                    f"unknown top-level setting {key!r} (strict mode refuses settings nobody reads)",
                    source=config.source_of([key]),
                    path=key,
                ),
            )
        return
    message = "unknown top-level setting(s), not used: " + ", ".join(
        f"{key} (from {config.source_of([key])})" for key in unknown
    )
    warnings.warn(message, ConfigWarning, stacklevel=4)
