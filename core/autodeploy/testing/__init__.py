"""`autodeploy.testing`: a pytest plugin and helpers for testing autodeploy plugins.

Opt in from a ``conftest.py``::

    pytest_plugins = ["autodeploy.testing"]

(or ``pytest -p autodeploy.testing``). It is deliberately not registered through a ``pytest11``
entry point: installing autodeploy must not add fixtures to every project's test run.

Fixtures:

- ``plugin_host``: a fresh `PluginHost` with autoload off: only what the test registers.
- ``register_plugin(obj, name=None)``: register a plugin object (module, instance) into
  ``plugin_host`` for this test; fails the test at once if the host refuses it.
- ``installed_plugin_host``: a host with the installed plugins, per the ``AUTODEPLOY_*`` controls.
- ``tiny_checkpoint``: a real checkpoint folder (config JSON + safetensors) of a tiny Llama.
- ``tiny_model_factory``: a `TinyLlamaFactory` reading ``tiny_checkpoint``.
- ``tiny_model``: a tiny Llama `nn.Module` with seeded weights, on the CPU.
- ``run_transform(key_or_class, mod=None, **config) -> (mod, record)``: `run_transform` with
  ``plugin_host`` as the host.

Helpers: `run_transform`, `check_plugin` (raises `PluginContractError` listing every problem),
`TinyLlamaFactory`, `write_tiny_checkpoint`, `seeded_tiny_llama`, and tiny random transformers
models of every architecture the attention matchers support (`tiny_hf_model`, `tiny_hf_config`,
`TINY_ARCHITECTURES`, `NUM_LAYERS`), and `write_tiny_hf_checkpoint`, which saves one with
``save_pretrained`` as a real Hugging Face checkpoint folder (config overrides for other sizes). Nothing here imports torch until a fixture or helper
needs a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pytest

from ..plugin import PluginControls, PluginHost, PluginRecord
from .contract import ContractReport, PluginContractError, check_plugin
from .run import run_transform
from .tiny_factory import TinyLlamaFactory, write_tiny_checkpoint

if TYPE_CHECKING:
    from torch import nn

    from ..records import TransformRecord

__all__ = [
    "NUM_LAYERS",
    "TINY_ARCHITECTURES",
    "ContractReport",
    "PluginContractError",
    "TinyLlamaFactory",
    "check_plugin",
    "run_transform",
    "seeded_tiny_llama",
    "tiny_hf_config",
    "tiny_hf_model",
    "write_tiny_checkpoint",
    "write_tiny_hf_checkpoint",
]

# model helpers that import torch / transformers: loaded on first use
_LAZY = {
    "NUM_LAYERS": "tiny_hf",
    "TINY_ARCHITECTURES": "tiny_hf",
    "tiny_hf_config": "tiny_hf",
    "tiny_hf_model": "tiny_hf",
    "write_tiny_hf_checkpoint": "tiny_hf",
    "seeded_tiny_llama": "tiny_llama",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@pytest.fixture
def plugin_host() -> PluginHost:
    """A fresh plugin host that loads no installed plugin (autoload off)."""
    return PluginHost(PluginControls(autoload=False))


@pytest.fixture
def register_plugin(plugin_host: PluginHost) -> Callable[..., PluginRecord]:
    """``register_plugin(obj, name=None)``: add an in-process plugin to ``plugin_host``.

    The host lives for one test, so the registration ends with the test. A plugin the host
    refuses (unknown hook, wrong hook arguments, a registration hook that raises) fails the test
    with the host's reason instead of surfacing later as a missing transform.
    """

    def register(plugin: Any, name: Optional[str] = None) -> PluginRecord:
        record = plugin_host.register(plugin, name=name)
        problems = plugin_host.problems()
        if not record.is_usable or problems:
            reasons = [record.error] if record.error else []
            pytest.fail(f"{record.origin} was not registered cleanly: {'; '.join(reasons + problems)}", pytrace=False)
        return record

    return register


@pytest.fixture
def installed_plugin_host() -> PluginHost:
    """A host with the installed plugins, as ``python -m autodeploy`` would load them."""
    return PluginHost.from_environment()


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint folder of a tiny Llama with seeded weights, written for this test."""
    return write_tiny_checkpoint(tmp_path / "tiny-llama")


@pytest.fixture
def tiny_model_factory(tiny_checkpoint: Path) -> TinyLlamaFactory:
    """A real model factory over ``tiny_checkpoint`` (builds on meta, streams its shard)."""
    return TinyLlamaFactory(model=str(tiny_checkpoint))


@pytest.fixture
def tiny_model() -> Iterator[nn.Module]:
    """A tiny Llama `nn.Module` (seed 0) on the CPU, in eval mode."""
    from .tiny_llama import seeded_tiny_llama

    yield seeded_tiny_llama()


@pytest.fixture(name="run_transform")
def run_transform_fixture(plugin_host: PluginHost) -> Callable[..., tuple[nn.Module, TransformRecord]]:
    """`run_transform` looking keys up in ``plugin_host`` (register your plugin first)."""

    def run(transform: Any, mod: Optional[nn.Module] = None, **kwargs: Any) -> tuple[nn.Module, TransformRecord]:
        kwargs.setdefault("host", plugin_host)
        return run_transform(transform, mod, **kwargs)

    return run
