"""Fixtures of the build-model plugin's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_model_testkit import save_70b_config, save_tiny_llama

from autodeploy import CachedSequenceInterface, PluginHost


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("build_model_tiny_llama"))


@pytest.fixture(scope="session")
def llama_70b_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_70b_config(tmp_path_factory.mktemp("build_model_llama_70b"))


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """The installed plugins (this one, the HF factories, ...), found through their entry points."""
    return PluginHost.from_environment(environ={})


@pytest.fixture
def cm() -> CachedSequenceInterface:
    return CachedSequenceInterface(max_seq_len=64, max_batch_size=4, device="cpu")
