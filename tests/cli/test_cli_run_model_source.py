"""Which folder ``run --model`` means: folders as given, names through plugins, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodeploy import hookimpl
from autodeploy.cli.model_source import default_cache_dir, resolve_model
from autodeploy.errors import AutodeployError, CheckpointError
from autodeploy.plugin import PluginControls, PluginHost


class NamedModels:
    """A resolver plugin knowing one name (and the default), preparing folders in the cache."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def autodeploy_resolve_model(self, name, cache_dir):
        self.calls.append((name, cache_dir))
        if name in (None, "toy"):
            folder = Path(cache_dir) / "toy"
            folder.mkdir(parents=True, exist_ok=True)
            return str(folder)
        if name == "explodes":
            raise OSError("disk full")
        return None


@pytest.fixture
def resolver():
    return NamedModels()


@pytest.fixture
def host(resolver):
    host = PluginHost(PluginControls(autoload=False))
    host.register(resolver, name="named-models")
    return host


def test_cache_dir_follows_the_environment(tmp_path):
    home = Path.home()
    assert default_cache_dir({}) == home / ".cache" / "autodeploy"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "autodeploy"
    chosen = {"XDG_CACHE_HOME": str(tmp_path), "AUTODEPLOY_CACHE_DIR": str(tmp_path / "mine")}
    assert default_cache_dir(chosen) == tmp_path / "mine"
    assert default_cache_dir({"AUTODEPLOY_CACHE_DIR": ""}) == home / ".cache" / "autodeploy"


def test_an_existing_folder_is_used_as_is_without_asking_plugins(host, resolver, tmp_path):
    folder = tmp_path / "toy"  # even a folder named like a plugin's model wins
    folder.mkdir()
    resolved = resolve_model(str(folder), host, tmp_path / "cache")
    assert resolved.path == str(folder.resolve()) and resolved.by_plugin is False
    assert resolver.calls == []


def test_names_and_the_default_go_to_plugins(host, resolver, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "toy" is not a folder here
    cache = tmp_path / "cache"
    named = resolve_model("toy", host, cache)
    default = resolve_model(None, host, cache)
    assert named.path == default.path == str(cache / "toy")
    assert named.by_plugin and default.by_plugin
    assert resolver.calls == [("toy", str(cache)), (None, str(cache))]
    assert "'default'" in default.describe()


def test_unknown_names_and_missing_folders_are_clear_errors(host, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AutodeployError, match="no installed plugin knows a model by that name") as unknown:
        resolve_model("llama-9000", host, tmp_path / "cache")
    assert not isinstance(unknown.value, CheckpointError)
    with pytest.raises(CheckpointError, match="no checkpoint folder at"):
        resolve_model(str(tmp_path / "missing" / "ckpt"), host, tmp_path / "cache")


def test_a_file_is_not_a_checkpoint_folder(host, tmp_path):
    file = tmp_path / "model.safetensors"
    file.write_bytes(b"")
    with pytest.raises(CheckpointError, match="is a file"):
        resolve_model(str(file), host, tmp_path / "cache")


def test_a_plugin_failure_names_the_model_and_the_cache(host, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AutodeployError, match=r"preparing model 'explodes' in .*cache failed: OSError: disk full"):
        resolve_model("explodes", host, tmp_path / "cache")


def test_no_default_without_a_plugin(tmp_path):
    bare = PluginHost(PluginControls(autoload=False))
    with pytest.raises(AutodeployError, match="no --model given and no installed plugin provides a default model"):
        resolve_model(None, bare, tmp_path)
