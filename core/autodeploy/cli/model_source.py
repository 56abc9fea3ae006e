"""Which checkpoint folder ``run --model`` means: a folder as given, or a name a plugin resolves.

Nothing is downloaded: a model is a local Hugging Face checkpoint folder, or a short name
(``default``, ``tiny-random``, ...) that an installed plugin turns into one through the
``autodeploy_resolve_model`` hook, preparing it in the user's cache on first use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..errors import AutodeployError, CheckpointError

if TYPE_CHECKING:
    from ..plugin import PluginHost

CACHE_DIR_VAR = "AUTODEPLOY_CACHE_DIR"
DEFAULT_MODEL_PLUGIN = "autodeploy-plugin-default-model"


def default_cache_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """``$AUTODEPLOY_CACHE_DIR``, else ``$XDG_CACHE_HOME/autodeploy``, else ``~/.cache/autodeploy``."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_DIR_VAR):
        return Path(env[CACHE_DIR_VAR]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "autodeploy"
    return Path.home() / ".cache" / "autodeploy"


@dataclass(frozen=True)
class ResolvedModel:
    """A checkpoint folder, how it was asked for, and how long it took to have it ready."""

    requested: Optional[str]
    path: str
    by_plugin: bool
    seconds: float

    def describe(self) -> str:
        if not self.by_plugin:
            return self.path
        name = self.requested if self.requested is not None else "default"
        return f"{self.path} ({name!r}, ready in {self.seconds:.1f} s)"


def resolve_model(requested: Optional[str], host: PluginHost, cache_dir: Path) -> ResolvedModel:
    """The folder for ``--model`` (None: the default model), or a clear error saying what to pass."""
    start = time.perf_counter()
    if requested is not None:
        path = Path(requested).expanduser()
        if path.is_dir():
            return ResolvedModel(requested, str(path.resolve()), by_plugin=False, seconds=0.0)
        if path.exists():
            raise CheckpointError(f"--model {requested!r} is a file; expected a checkpoint folder (with config.json)")
    answer = _ask_plugins(requested, host, cache_dir)
    if answer is not None:
        return ResolvedModel(requested, answer, by_plugin=True, seconds=time.perf_counter() - start)
    if requested is None:
        raise AutodeployError(
            f"no --model given and no installed plugin provides a default model; pass --model DIR "
            f"(a local Hugging Face checkpoint folder) or install {DEFAULT_MODEL_PLUGIN}"
        )
    error = CheckpointError if _looks_like_path(requested) else AutodeployError
    raise error(
        f"--model {requested!r}: there is no checkpoint folder at {Path(requested).expanduser().absolute()}, "
        f"and no installed plugin knows a model by that name ({DEFAULT_MODEL_PLUGIN} knows default, "
        f"smollm2 and tiny-random); models are not downloaded: pass a local Hugging Face checkpoint folder"
    )


def _ask_plugins(requested: Optional[str], host: PluginHost, cache_dir: Path) -> Optional[str]:
    try:
        return host.resolve_model(requested, str(cache_dir))
    except AutodeployError:
        raise
    except Exception as exc:  # a plugin's own failure (conversion, disk full): say which model
        name = requested if requested is not None else "default"
        raise AutodeployError(f"preparing model {name!r} in {cache_dir} failed: {type(exc).__name__}: {exc}") from exc


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith((".", "~"))
