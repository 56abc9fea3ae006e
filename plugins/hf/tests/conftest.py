"""Fixtures of the Hugging Face plugin's tests: tiny checkpoints, saved once per session.

Tests that damage a checkpoint work on a copy (`checkpoint_copy`), never on the shared folders.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hf_testkit import (
    VOCAB,
    save_bin_checkpoint,
    save_checkpoint,
    tiny_gemma_config,
    tiny_gpt2_config,
    tiny_llama_config,
    tiny_llava_config,
    tiny_qwen2_config,
)
from transformers import AutoModelForImageTextToText


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hf_checkpoints")


@pytest.fixture(scope="session")
def llama_dir(checkpoints: Path) -> Path:
    return save_checkpoint(checkpoints / "llama", tiny_llama_config())


@pytest.fixture(scope="session")
def llama_sharded_dir(checkpoints: Path) -> Path:
    return save_checkpoint(checkpoints / "llama_sharded", tiny_llama_config(), max_shard_size="20KB")


@pytest.fixture(scope="session")
def qwen2_dir(checkpoints: Path) -> Path:
    return save_checkpoint(checkpoints / "qwen2", tiny_qwen2_config(), seed=1)


@pytest.fixture(scope="session")
def qwen2_sharded_dir(checkpoints: Path) -> Path:
    return save_checkpoint(checkpoints / "qwen2_sharded", tiny_qwen2_config(), seed=1, max_shard_size="20KB")


@pytest.fixture(scope="session")
def gpt2_dir(checkpoints: Path) -> Path:
    """GPT-2 ties its output layer to the embedding: the checkpoint holds the embedding only."""
    return save_checkpoint(checkpoints / "gpt2", tiny_gpt2_config(), seed=2)


@pytest.fixture(scope="session")
def gemma_dir(checkpoints: Path) -> Path:
    return save_checkpoint(checkpoints / "gemma", tiny_gemma_config(), seed=3)


@pytest.fixture(scope="session")
def llava_dir(checkpoints: Path) -> Path:
    return save_checkpoint(checkpoints / "llava", tiny_llava_config(), auto_class=AutoModelForImageTextToText, seed=4)


@pytest.fixture(scope="session")
def llama_bin_dir(checkpoints: Path) -> Path:
    return save_bin_checkpoint(checkpoints / "llama_bin", tiny_llama_config(), seed=5)


@pytest.fixture(scope="session")
def llama_bin_sharded_dir(checkpoints: Path) -> Path:
    return save_bin_checkpoint(checkpoints / "llama_bin_sharded", tiny_llama_config(), seed=6, shards=3)


@pytest.fixture
def checkpoint_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """A private copy of a checkpoint folder, for tests that damage it."""

    def copy(folder: Path) -> Path:
        return Path(shutil.copytree(folder, tmp_path / f"copy_of_{folder.name}"))

    return copy


@pytest.fixture
def input_ids() -> torch.Tensor:
    generator = torch.Generator().manual_seed(7)
    return torch.randint(0, VOCAB - 1, (2, 9), generator=generator)
