"""Peak memory: load_weights holds the model plus one shard, never two.

A factory wrapper streams the real shards (safetensors memory-maps each file) and records, each
time the loader asks for the next shard, which earlier shards are still alive: whether the
shard mapping the loader got is still referenced (a weak reference), and which shard files are
still mapped into the process (``/proc/self/maps``: a file stays mapped while any tensor of it
lives). Nothing of torch is replaced. Also: the progress bar.
"""

from __future__ import annotations

import io
import weakref
from pathlib import Path

import pytest
import torch
from autodeploy_load_weights.progress import AUTO_MIN_BYTES, should_show
from autodeploy_load_weights.transforms import LoadWeightsToDevice
from load_weights_testkit import Container, SafetensorsLlamaFactory, save_tiny_llama


class ShardMapping(dict):
    """A shard's tensors (a dict that can be weakly referenced)."""


PROC_MAPS = Path("/proc/self/maps")
needs_proc_maps = pytest.mark.skipif(not PROC_MAPS.exists(), reason="needs Linux /proc/self/maps")


def mapped_files(folder: Path) -> list[str]:
    """Names of the files of `folder` that are memory-mapped into this process now."""
    prefix = str(folder.resolve()) + "/"
    names = {line.split(None, 5)[-1].strip() for line in PROC_MAPS.read_text().splitlines() if prefix in line}
    return sorted(Path(name).name for name in names)


class ShardLifetimeFactory(SafetensorsLlamaFactory):
    """Streams the real shards and records, when shard k+1 is asked for, what of shards <= k lives."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mappings: list[tuple[str, weakref.ref]] = []
        self.alive_when_next_asked: list[tuple[list[str], list[str]]] = []

    def iter_checkpoint_shards(self):
        for name, tensors in super().iter_checkpoint_shards():
            shard = ShardMapping(tensors)
            del tensors
            self.mappings.append((name, weakref.ref(shard)))
            yield name, shard
            del shard
            # resumed: the loader asks for the next shard (or has finished)
            alive = [shard_name for shard_name, ref in self.mappings if ref() is not None]
            self.alive_when_next_asked.append((alive, mapped_files(Path(self.model))))


def load(factory, cm, shared_config, **config):
    transform = LoadWeightsToDevice.from_kwargs(stage="weight_load", run_per_gm=False, **config)
    return transform(Container(factory.build_model("meta")), cm, factory, shared_config)


def test_each_shard_is_released_before_the_next_is_read(tmp_path, cm, shared_config):
    folder = save_tiny_llama(tmp_path / "ckpt", max_shard_size="20KB")
    factory = ShardLifetimeFactory(model=folder)

    load(factory, cm, shared_config)

    assert len(factory.mappings) >= 4
    assert len(factory.alive_when_next_asked) == len(factory.mappings)
    for alive_mappings, _ in factory.alive_when_next_asked:
        assert alive_mappings == []


@needs_proc_maps
def test_cast_copies_unmap_each_shard_before_the_next(tmp_path, cm, shared_config):
    """fp32 shards into a bf16 model: each shard file is unmapped once its tensors are converted,
    before the next shard is read, so the load holds the model plus one shard at most."""
    folder = save_tiny_llama(tmp_path / "ckpt", max_shard_size="20KB")
    factory = ShardLifetimeFactory(model=folder, model_kwargs={"dtype": torch.bfloat16})

    load(factory, cm, shared_config)

    assert len(factory.alive_when_next_asked) >= 4
    for _, mapped in factory.alive_when_next_asked:
        assert mapped == []


@needs_proc_maps
def test_zero_copy_shards_stay_mapped_as_the_weights(tmp_path, cm, shared_config):
    """Counter-check of the test above: the maps do show live shards. With a matching dtype the
    model's weights are the shard files' pages themselves (no copy), so every shard read so far
    stays mapped, as the model, while the shard mappings themselves are released."""
    folder = save_tiny_llama(tmp_path / "ckpt", max_shard_size="20KB")
    factory = ShardLifetimeFactory(model=folder)

    mod = load(factory, cm, shared_config)

    shard_names = [name for name, _ in factory.mappings]
    for index, (_, mapped) in enumerate(factory.alive_when_next_asked):
        assert mapped == sorted(shard_names[: index + 1])
    del mod
    assert mapped_files(folder) == []


def test_progress_bar_counts_shards(tmp_path, cm, shared_config, capfd):
    folder = save_tiny_llama(tmp_path / "ckpt", max_shard_size="20KB")
    factory = SafetensorsLlamaFactory(model=folder)
    capfd.readouterr()

    load(factory, cm, shared_config, show_progress=True)

    shards = len(factory.checkpoint_files())
    err = capfd.readouterr().err
    assert "load_weights" in err
    assert f"{shards}/{shards}" in err


def test_progress_bar_off_by_config(tmp_path, cm, shared_config, capfd):
    folder = save_tiny_llama(tmp_path / "ckpt", max_shard_size="20KB")
    capfd.readouterr()

    load(SafetensorsLlamaFactory(model=folder), cm, shared_config, show_progress=False)

    assert "load_weights" not in capfd.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_auto_shows_for_large_checkpoints_on_a_terminal():
    assert should_show(None, AUTO_MIN_BYTES, _Terminal())
    assert not should_show(None, AUTO_MIN_BYTES - 1, _Terminal())
    assert not should_show(None, AUTO_MIN_BYTES, io.StringIO())  # a log file: no bar
    assert should_show(True, 0, io.StringIO())
    assert not should_show(False, AUTO_MIN_BYTES, _Terminal())
