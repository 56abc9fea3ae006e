"""Loading a checkpoint's tokenizer from local files, when it has one.

Many test and export folders hold only weights and ``config.json``; a missing tokenizer is not an
error there (`None`), while a tokenizer that is present but broken is, naming the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .errors import checkpoint_error, describe_exception

# Any one of these makes a folder a tokenizer folder for AutoTokenizer.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
)


def has_tokenizer_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def load_tokenizer(folder: Path, *, trust_remote_code: bool, gguf_file: Optional[Path] = None) -> Any:
    """``AutoTokenizer`` from `folder` (or from the GGUF file's vocabulary); local files only."""
    from transformers import AutoTokenizer

    source = gguf_file if gguf_file is not None else folder
    try:
        if gguf_file is not None:
            return AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file.name, local_files_only=True)
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - tokenizers fail with many exception types
        raise checkpoint_error(source, f"its tokenizer cannot be loaded ({describe_exception(exc)})") from exc
