"""Hook implementations of the default-model plugin (entry point ``autodeploy.plugins``).

Kept free of torch and transformers at import time: the host imports this module on every
start, including for commands that never touch a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from autodeploy import hookimpl

from .names import model_kind


@hookimpl
def autodeploy_resolve_model(name: Optional[str], cache_dir: str) -> Optional[str]:
    """``None``/``default``/``smollm2`` -> converted SmolLM2 folder; ``tiny-random`` -> tiny Llama.

    Any other name is not ours: None lets other plugins answer.
    """
    kind = model_kind(name)
    if kind == "smollm2":
        from .smollm2 import smollm2_folder

        return str(smollm2_folder(Path(cache_dir)))
    if kind == "tiny-random":
        from .tiny_random import tiny_random_folder

        return str(tiny_random_folder(Path(cache_dir)))
    return None
