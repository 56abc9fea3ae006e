"""The model names this plugin answers to, and which model each one means.

Names are compared case-insensitively. The Hub id of SmolLM2 is accepted too: no hub is
reachable offline, and the converted GGUF is the same model.
"""

from __future__ import annotations

from typing import Literal, Optional

ModelKind = Literal["smollm2", "tiny-random"]

SMOLLM2_NAMES = frozenset({"default", "smollm2", "smollm2-135m-instruct", "huggingfacetb/smollm2-135m-instruct"})
TINY_RANDOM_NAMES = frozenset({"tiny-random", "tiny-random-llama"})


def model_kind(name: Optional[str]) -> Optional[ModelKind]:
    """Which of our models `name` means; ``None`` (no name at all) means the default model.

    Returns None for names that are not ours, so that other plugins (or a folder) may answer.
    """
    if name is None:
        return "smollm2"
    normalised = name.strip().lower()
    if normalised in SMOLLM2_NAMES:
        return "smollm2"
    if normalised in TINY_RANDOM_NAMES:
        return "tiny-random"
    return None
