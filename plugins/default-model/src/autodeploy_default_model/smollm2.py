"""SmolLM2-135M-Instruct as a normal checkpoint folder, converted once from its GGUF file.

Why convert: a GGUF file is quantised and named the llama.cpp way; every autodeploy path (the
factory's meta build, streamed safetensors weight loading, the eager reference of ``--check``)
wants a Hugging Face folder. Converting once (~30 s on 2 cores) makes later runs load in about a
second.

How: transformers' own GGUF reader gives the config, the tokenizer and the dequantised tensors
under the model's state-dict names; they go into a model built from the config on the meta
device (no second copy of the weights), which is then saved as safetensors. We call the reader
directly rather than ``from_pretrained(..., gguf_file=...)``: that entry point also requires
`accelerate` and returns a model that refuses ``save_pretrained``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from .cache_folder import materialize_folder
from .gguf_source import find_smollm2_gguf, require_gguf_reader

# Bump when the conversion changes what it writes: cached folders of older formats are left alone
# and a new one is made.
CONVERSION_FORMAT = 1
SAVED_DTYPE = "float32"


def smollm2_folder(cache_dir: Path) -> Path:
    """The converted SmolLM2 folder in `cache_dir`, converting the GGUF file on first use."""
    gguf_path = find_smollm2_gguf()
    destination = Path(cache_dir) / "models" / f"smollm2-135m-instruct-{source_key(gguf_path)}"

    def build(folder: Path) -> None:
        require_gguf_reader()
        print(
            f"autodeploy: converting {gguf_path.name} once into {destination} (about half a minute)",
            file=sys.stderr,
            flush=True,
        )
        convert_gguf_checkpoint(gguf_path, folder)

    description = {
        "model": "SmolLM2-135M-Instruct",
        "source": str(gguf_path),
        "source_size": gguf_path.stat().st_size,
        "conversion_format": CONVERSION_FORMAT,
        "dtype": SAVED_DTYPE,
    }
    return materialize_folder(destination, build, description=description)


def source_key(gguf_path: Path) -> str:
    """A short key that changes when the GGUF file (size, mtime) or our conversion changes.

    Size and mtime instead of a content hash: hashing 100 MB would cost every run ~0.2 s, and a
    package upgrade rewrites the file anyway.
    """
    stat = gguf_path.stat()
    identity = f"{gguf_path.name}:{stat.st_size}:{stat.st_mtime_ns}:format{CONVERSION_FORMAT}"
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def convert_gguf_checkpoint(gguf_path: Path, out_dir: Path) -> None:
    """Write a safetensors checkpoint, tokenizer and generation config of `gguf_path` to `out_dir`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, file_name = str(gguf_path.parent), gguf_path.name
    config = AutoConfig.from_pretrained(folder, gguf_file=file_name)
    config.dtype = getattr(torch, SAVED_DTYPE)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=config.dtype)
    tensors = load_gguf_checkpoint(str(gguf_path), return_tensors=True, model_to_load=model)["tensors"]
    tensors = {name: tensor.to(config.dtype) for name, tensor in tensors.items()}
    # lm_head is tied to the embeddings and absent from the file: judged after tie_weights below
    _, unexpected = model.load_state_dict(tensors, strict=False, assign=True)
    model.tie_weights()
    still_missing = sorted(name for name, tensor in model.state_dict().items() if tensor.is_meta)
    if still_missing or unexpected:
        raise RuntimeError(
            f"GGUF file {gguf_path} does not fit {type(model).__name__}: "
            f"missing {still_missing[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    model.generation_config = GenerationConfig.from_model_config(config)
    model.save_pretrained(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file_name)
    tokenizer.save_pretrained(out_dir)
