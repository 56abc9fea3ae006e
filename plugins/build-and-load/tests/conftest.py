"""Fixtures of the build-and-load plugin's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from build_and_load_testkit import save_tiny

from autodeploy import CachedSequenceInterface, PluginHost


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("build_and_load_checkpoints")
    return {
        "llama": save_tiny(root / "llama", "llama", seed=0),
        "llama_sharded": save_tiny(root / "llama_sharded", "llama", seed=1, max_shard_size="20KB"),
        "qwen2": save_tiny(root / "qwen2", "qwen2", seed=2),
        "qwen2_sharded": save_tiny(root / "qwen2_sharded", "qwen2", seed=3, max_shard_size="20KB"),
    }


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """The installed plugins, found through their entry points."""
    return PluginHost.from_environment(environ={})


@pytest.fixture
def cm() -> CachedSequenceInterface:
    return CachedSequenceInterface(max_seq_len=64, max_batch_size=4, device="cpu")


@pytest.fixture
def input_ids() -> torch.Tensor:
    return torch.randint(0, 127, (2, 9), generator=torch.Generator().manual_seed(3))
