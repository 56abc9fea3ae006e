"""The export cache: a later run of the same model and pipeline loads its exported program.

Exporting SmolLM2-135M takes 15-20 s on this machine's CPU; loading the cached program (the
format of `program_store`) takes a few seconds. The cache lives in the run's cache folder
(the shared config's ``cache_dir``, which ``autodeploy run`` sets to ``$AUTODEPLOY_CACHE_DIR``,
else ``$XDG_CACHE_HOME/autodeploy``, else ``~/.cache/autodeploy``; ``--no-cache`` leaves it
unset), under ``exports/<key>/``.

**The key** is a hash of everything that changes the exported graph (`export_key`): the model's
class, its config (every field) and attention implementation, the source files of every module
class in it (the model code's version), the name, shape, dtype, device and kind of every
parameter and buffer (ties included), the export switches (strict, dynamic batch and sequence),
the example inputs (names, shapes, dtypes) and dynamic dimensions from the sequence interface,
the Python, torch and transformers versions, this plugin's version and the hash of its own
source, and the format version. Weights are not part of it, and are not stored: a hit takes the
live model's tensors.

**Entries** are folders (``program.pkl``, ``key.json`` with the full key and the program's
sha256) built in a temporary sibling and renamed into place, so a reader sees a whole entry or
none, and two concurrent runs both succeed (the first rename wins). An entry whose checksum,
key or contents do not match is damaged or stale: it is removed and rebuilt, with a warning,
never used. A failure to write is a warning too: the cache may make a run faster, never fail it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import platform
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from autodeploy import atomic_write_bytes, atomic_write_text

from . import program_store

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.export import ExportedProgram

logger = logging.getLogger(__name__)

CACHE_SUBDIR = "exports"
PROGRAM_FILE = "program.pkl"
KEY_FILE = "key.json"
MAX_ENTRIES = 16
"""Entries kept in the cache; the oldest beyond this are removed when a new one is stored."""
_PLUGIN_DIR = Path(__file__).parent


CACHE_HIT = "hit"  # loaded from the cache
CACHE_MISS = "miss"  # exported, and stored for next time
CACHE_REBUILT = "rebuilt"  # a damaged or stale entry was removed; exported and stored again
CACHE_OFF = "off"  # no cache folder given (e.g. --no-cache)
CACHE_NOT_CACHEABLE = "not cached"  # exported; this model or program cannot be cached (or the write failed)

CACHE_NOTES = {CACHE_HIT: "cache hit", CACHE_REBUILT: "cache entry rebuilt", CACHE_MISS: "cached"}
"""What the run report says next to ``export_to_gm``'s status for each outcome."""


class ExportCacheWarning(UserWarning):
    """A cache entry was damaged or stale (and is rebuilt), or could not be written."""


@dataclass(frozen=True)
class CacheLookup:
    """What a lookup found: the program (None on a miss) and why it missed, if it did."""

    program: Optional[ExportedProgram]
    outcome: str  # CACHE_HIT, CACHE_MISS or CACHE_REBUILT


def export_key(
    model: nn.Module,
    example_inputs: Mapping[str, torch.Tensor],
    dynamic_dims: Mapping[str, Any],
    switches: Mapping[str, Any],
) -> Optional[dict[str, Any]]:
    """Everything that changes the exported graph of `model`, as JSON-able data; None when the
    model has no config to describe it by (plain modules are exported every time)."""
    config = getattr(model, "config", None)
    to_json = getattr(config, "to_json_string", None)
    if not callable(to_json):
        return None
    return {
        "format": program_store.FORMAT_VERSION,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "model_config": json.loads(to_json(use_diff=False)),
        "attn_implementation": str(getattr(config, "_attn_implementation", None)),
        "model_code": _source_hash({type(module) for module in model.modules()}),
        "tensors": _tensor_layout(model),
        "export": dict(switches),
        "example_inputs": {
            name: {"shape": list(tensor.shape), "dtype": str(tensor.dtype), "device": str(tensor.device)}
            for name, tensor in sorted(example_inputs.items())
        },
        "dynamic_dims": json.loads(json.dumps(dynamic_dims, default=str, sort_keys=True)),
        "versions": {
            "python": platform.python_version(),
            "torch": _version("torch"),
            "transformers": _version("transformers"),
            "autodeploy-plugin-export": _version("autodeploy-plugin-export"),
            "export_plugin_source": _plugin_source_hash(),
        },
    }


def key_digest(key: Mapping[str, Any]) -> str:
    """The folder name of an entry: a hash of the canonical JSON of its key."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:40]


class ExportCache:
    """The export entries under ``<cache_dir>/exports``."""

    def __init__(self, cache_dir: str | os.PathLike[str]):
        self.root = Path(cache_dir) / CACHE_SUBDIR

    def entry(self, key: Mapping[str, Any]) -> Path:
        return self.root / key_digest(key)

    def lookup(self, key: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> CacheLookup:
        """The cached program for `key` with `tensors` as its weights; a damaged or stale entry is
        removed (with a warning) and reported as ``rebuilt``."""
        folder = self.entry(key)
        if not folder.exists():
            return CacheLookup(None, CACHE_MISS)
        try:
            return CacheLookup(self._read(folder, key, tensors), CACHE_HIT)
        except Exception as exc:  # noqa: BLE001 - any failure to read means: do not use it
            warnings.warn(
                f"export cache entry {folder} is damaged or stale ({type(exc).__name__}: {exc}); "
                "removing it and exporting again",
                ExportCacheWarning,
                stacklevel=2,
            )
            _remove_folder(folder)
            return CacheLookup(None, CACHE_REBUILT)

    def store(self, key: Mapping[str, Any], program: ExportedProgram) -> Optional[Path]:
        """Write `program` under `key` (atomically: a folder renamed into place); None if it
        cannot be stored (a warning says why when it is a write failure)."""
        try:
            data = program_store.dump_program(program)
        except program_store.NotStorable as exc:
            logger.info("export result not cached: %s", exc)
            return None
        folder = self.entry(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-{os.getpid()}-", dir=self.root))
            # not mkdtemp's private 0700: a cache shared by the users of a machine stays readable
            os.chmod(partial, self.root.stat().st_mode & 0o777)
        except OSError as exc:
            warnings.warn(f"cannot write the export cache in {self.root}: {exc}", ExportCacheWarning, stacklevel=2)
            return None
        try:
            atomic_write_bytes(partial / PROGRAM_FILE, data)
            manifest = {"key": key, "program_sha256": hashlib.sha256(data).hexdigest()}
            atomic_write_text(partial / KEY_FILE, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
            try:
                os.rename(partial, folder)
            except OSError:
                if not folder.exists():
                    raise
                shutil.rmtree(partial, ignore_errors=True)  # another run stored it first
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            warnings.warn(f"cannot write export cache entry {folder}: {exc}", ExportCacheWarning, stacklevel=2)
            return None
        self.prune(keep=MAX_ENTRIES, spare=folder)
        return folder

    def prune(self, keep: int, spare: Optional[Path] = None) -> list[Path]:
        """Remove all but the `keep` most recently written entries (never `spare`); returns the
        removed ones. Entries of older code or versions are never read again, so without this the
        folder would only grow."""
        entries = [path for path in self.root.iterdir() if path.is_dir() and not path.name.startswith(".")]
        entries.sort(key=_written_at, reverse=True)
        removed = [path for path in entries[keep:] if path != spare]
        for path in removed:
            _remove_folder(path)
        return removed

    def _read(self, folder: Path, key: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> ExportedProgram:
        manifest = json.loads((folder / KEY_FILE).read_text(encoding="utf-8"))
        if manifest.get("key") != json.loads(json.dumps(key, sort_keys=True)):
            raise ValueError("its key does not match this model and export")
        data = (folder / PROGRAM_FILE).read_bytes()
        if hashlib.sha256(data).hexdigest() != manifest.get("program_sha256"):
            raise ValueError(f"{PROGRAM_FILE} does not match its checksum")
        return program_store.load_program(data, tensors)


def _remove_folder(folder: Path) -> None:
    """Take a bad entry out of the way at once (rename), then delete it."""
    trash = folder.with_name(f".{folder.name}.removed-{os.getpid()}")
    try:
        os.rename(folder, trash)
    except OSError:
        trash = folder
    shutil.rmtree(trash, ignore_errors=True)


def _written_at(folder: Path) -> float:
    try:
        return (folder / KEY_FILE).stat().st_mtime
    except OSError:
        return 0.0


def _tensor_layout(model: nn.Module) -> list[list[Any]]:
    """Name, shape, dtype, device and kind of every parameter and buffer; tied names share a group."""
    groups: dict[int, int] = {}
    layout = []
    named: list[tuple[str, torch.Tensor, str]] = [
        (name, tensor, "parameter") for name, tensor in model.named_parameters(remove_duplicate=False)
    ]
    named += [(name, tensor, "buffer") for name, tensor in model.named_buffers(remove_duplicate=False)]
    for name, tensor, kind in named:
        group = groups.setdefault(id(tensor), len(groups))
        layout.append([name, list(tensor.shape), str(tensor.dtype), str(tensor.device), kind, group])
    return layout


def _source_hash(classes: set[type]) -> str:
    """A hash of the source files that define `classes` (the model code's version)."""
    files = set()
    for cls in classes:
        try:
            source = inspect.getsourcefile(cls)
        except TypeError:  # a builtin
            continue
        if source:
            files.add(source)
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode())
        try:
            digest.update(Path(path).read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()


_plugin_hash: Optional[str] = None


def _plugin_source_hash() -> str:
    """A hash of this plugin's own source: an edited export (editable installs keep the version)
    must not read entries written by the old code."""
    global _plugin_hash
    if _plugin_hash is None:
        digest = hashlib.sha256()
        for path in sorted(_PLUGIN_DIR.rglob("*.py")):
            digest.update(str(path.relative_to(_PLUGIN_DIR)).encode())
            digest.update(path.read_bytes())
        _plugin_hash = digest.hexdigest()
    return _plugin_hash


def _version(distribution: str) -> Optional[str]:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
