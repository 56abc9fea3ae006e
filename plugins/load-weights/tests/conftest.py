"""Fixtures of the load-weights tests."""

from __future__ import annotations

import pytest
import torch

from autodeploy import CachedSequenceInterface, SharedConfig


@pytest.fixture
def cm() -> CachedSequenceInterface:
    return CachedSequenceInterface(max_seq_len=64, max_batch_size=8, device="cpu")


@pytest.fixture
def shared_config() -> SharedConfig:
    return SharedConfig()


@pytest.fixture
def input_ids() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randint(0, 96, (3, 11), generator=generator)
