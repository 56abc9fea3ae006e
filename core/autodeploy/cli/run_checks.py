"""Checks of ``run``'s arguments that need the model or the file system, done before the pipeline.

A run takes seconds to minutes; an output path it cannot write, or a token id the model has no
embedding for, would otherwise fail only after all that work (and a huge id with a traceback from
torch). Both are known before the first transform runs, so they are refused then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from ..atomic import AtomicWriteError, check_writable
from ..errors import AutodeployError
from ..factory import ModelFactory

# the largest id a torch.long tensor holds; with no vocabulary size known, larger ids are refused
MAX_TOKEN_ID = 2**63 - 1
CONFIG_FILE = "config.json"


def check_report_path(path: Optional[str]) -> None:
    """Refuse a ``--report-json`` path that cannot be written (a directory, no permission...) now."""
    if path is None:
        return
    try:
        check_writable(path)
    except AtomicWriteError as exc:
        raise AutodeployError(f"--report-json: cannot write {path}: {exc.strerror}") from exc


def check_ids_fit_vocabulary(ids: Optional[Sequence[int]], factory: ModelFactory) -> None:
    """Refuse ``--input-ids`` outside the model's vocabulary (its config's ``vocab_size``)."""
    if not ids:
        return
    size = vocabulary_size(factory)
    limit = size - 1 if size is not None else MAX_TOKEN_ID
    outside = [token for token in ids if token > limit]
    if not outside:
        return
    shown = ", ".join(str(token) for token in outside[:5]) + (", ..." if len(outside) > 5 else "")
    if size is None:
        raise AutodeployError(f"--input-ids: token id {shown} is larger than any token id can be (at most {limit})")
    raise AutodeployError(
        f"--input-ids: {'token ids' if len(outside) > 1 else 'token id'} {shown} "
        f"{'are' if len(outside) > 1 else 'is'} outside the model's vocabulary "
        f"(vocab_size {size}: ids 0 to {limit})"
    )


def vocabulary_size(factory: ModelFactory) -> Optional[int]:
    """The model's vocabulary size: from the factory's model config when it has one (Hugging Face
    factories: ``hf_config()``, with ``model_kwargs`` applied), else from the checkpoint's
    ``config.json``; None when neither says.

    A config that cannot be read gives None: the pipeline then reports the broken checkpoint,
    naming the transform that needed it, as it does without ``--input-ids``.
    """
    read_config = getattr(factory, "hf_config", None)
    if callable(read_config):
        try:
            config = read_config()
        except Exception:  # noqa: BLE001 - reported by the pipeline, where it names the transform
            return None
        text_config = getattr(config, "get_text_config", None)
        config = text_config() if callable(text_config) else config
        return _size(getattr(config, "vocab_size", None))
    return _size_from_json(factory.model_path / CONFIG_FILE) if factory.model_path is not None else None


def _size_from_json(path: Path) -> Optional[int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, Mapping):
        return None
    text_config: Any = data.get("text_config")
    if data.get("vocab_size") is None and isinstance(text_config, Mapping):
        return _size(text_config.get("vocab_size"))
    return _size(data.get("vocab_size"))


def _size(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
