"""Cache folders appear whole or not at all, and are built once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from autodeploy_default_model.cache_folder import COMPLETE_MARKER, is_complete, materialize_folder, read_marker
from autodeploy_default_model.smollm2 import convert_gguf_checkpoint
from autodeploy_default_model.tiny_random import write_tiny_random_checkpoint

from autodeploy import AutodeployError


def partials(parent: Path) -> list[str]:
    return sorted(path.name for path in parent.iterdir() if ".partial-" in path.name)


def write_two_files(folder: Path) -> None:
    (folder / "a.txt").write_text("first")
    (folder / "b.txt").write_text("second")


def test_builds_once_and_records_where_it_came_from(tmp_path):
    destination = tmp_path / "models" / "thing"
    calls = []

    def build(folder):
        calls.append(folder)
        write_two_files(folder)

    assert materialize_folder(destination, build, description={"model": "thing"}) == destination
    assert sorted(os.listdir(destination)) == sorted(["a.txt", "b.txt", COMPLETE_MARKER])
    assert read_marker(destination) == {"model": "thing"}
    assert calls[0].parent == destination.parent and calls[0] != destination  # built beside, then renamed
    mtime = (destination / "a.txt").stat().st_mtime_ns

    assert materialize_folder(destination, build, description={"model": "thing"}) == destination
    assert len(calls) == 1
    assert (destination / "a.txt").stat().st_mtime_ns == mtime
    assert partials(destination.parent) == []


def test_failure_mid_build_leaves_no_folder_behind(tmp_path):
    """A real conversion failure after files were written: no destination, no partial folder."""
    not_gguf = tmp_path / "broken.gguf"
    not_gguf.write_text("this is not a GGUF file")
    destination = tmp_path / "models" / "broken"

    def build(folder):
        write_tiny_random_checkpoint(folder)  # real files land in the partial folder first
        assert (folder / "model.safetensors").is_file()
        convert_gguf_checkpoint(not_gguf, folder)

    with pytest.raises(ValueError, match="GGUF"):
        materialize_folder(destination, build, description={})
    assert not destination.exists()
    assert partials(destination.parent) == []


def test_losing_a_race_uses_the_winners_folder(tmp_path):
    """Another builder finishes first (here: a nested build of the same folder): its copy is kept."""
    destination = tmp_path / "race"

    def winner(folder):
        (folder / "who.txt").write_text("winner")

    def loser(folder):
        (folder / "who.txt").write_text("loser")
        materialize_folder(destination, winner, description={"by": "winner"})

    assert materialize_folder(destination, loser, description={"by": "loser"}) == destination
    assert (destination / "who.txt").read_text() == "winner"
    assert read_marker(destination) == {"by": "winner"}
    assert partials(tmp_path) == []


def test_partial_folder_of_a_dead_process_is_cleared(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    leftover = tmp_path / f".thing.partial-{dead_pid}-abcd"
    leftover.mkdir()
    (leftover / "half.bin").write_bytes(b"\0" * 10)
    live = tmp_path / f".thing.partial-{os.getpid()}-efgh"  # a build in progress (ours): kept
    live.mkdir()

    materialize_folder(tmp_path / "thing", write_two_files, description={})

    assert not leftover.exists()
    assert live.exists()
    assert is_complete(tmp_path / "thing")


def test_an_incomplete_folder_under_the_real_name_is_refused(tmp_path):
    destination = tmp_path / "thing"
    destination.mkdir()
    (destination / "config.json").write_text("{}")
    with pytest.raises(AutodeployError, match="not a complete autodeploy cache folder"):
        materialize_folder(destination, write_two_files, description={})
    assert sorted(os.listdir(destination)) == ["config.json"]
