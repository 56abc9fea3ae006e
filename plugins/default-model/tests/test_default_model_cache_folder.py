"""Cache folders appear whole or not at all, and are built once."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from autodeploy_default_model.cache_folder import (
    BUILD_LOCK,
    COMPLETE_MARKER,
    is_complete,
    materialize_folder,
    read_marker,
)
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


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def partial_with_lock(parent: Path, suffix: str, **lock) -> Path:
    """A partial folder as a builder leaves it: its lock (host, pid, start time) and a half file."""
    folder = parent / f".thing.partial-{suffix}"
    folder.mkdir()
    (folder / BUILD_LOCK).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), **lock}))
    (folder / "half.bin").write_bytes(b"\0" * 10)
    return folder


def test_partial_folders_are_removed_only_when_their_builder_is_certainly_gone(tmp_path):
    now = time.time()
    two_days = 2 * 24 * 3600
    dead_here = partial_with_lock(tmp_path, "dead", pid=dead_pid(), started=now - 60)
    # a process id now used by a process started after the lock was written: the builder is gone
    reused_pid = partial_with_lock(tmp_path, "reused", started=psutil.Process().create_time() - 3600)
    live_here = partial_with_lock(tmp_path, "live", started=now)  # this process, building
    other_host = partial_with_lock(tmp_path, "other", host="another-host.example", pid=dead_pid(), started=now - 60)
    other_host_old = partial_with_lock(tmp_path, "old", host="another-host.example", pid=1, started=now - two_days)
    unlocked_young = tmp_path / ".thing.partial-young"
    unlocked_young.mkdir()
    unlocked_old = tmp_path / ".thing.partial-unlocked"
    unlocked_old.mkdir()
    os.utime(unlocked_old, (now - two_days, now - two_days))

    materialize_folder(tmp_path / "thing", write_two_files, description={})

    assert not dead_here.exists() and not reused_pid.exists()
    assert live_here.exists()
    assert other_host.exists(), "another host's build in progress was removed"
    assert not other_host_old.exists()
    assert unlocked_young.exists() and not unlocked_old.exists()
    assert is_complete(tmp_path / "thing")
    assert not (tmp_path / "thing" / BUILD_LOCK).exists(), "the lock went into the finished folder"


def test_a_build_holds_a_lock_naming_its_host_and_process(tmp_path):
    seen = {}

    def build(folder):
        seen.update(json.loads((folder / BUILD_LOCK).read_text()))
        write_two_files(folder)

    materialize_folder(tmp_path / "thing", build, description={})
    assert seen["host"] == socket.gethostname() and seen["pid"] == os.getpid()
    assert abs(seen["started"] - time.time()) < 600


def test_cache_folders_get_the_usual_permissions(tmp_path):
    """Not mkdtemp's private 0700: a cache shared by the users of one machine must be readable."""
    umask = os.umask(0o022)
    try:
        destination = materialize_folder(tmp_path / "users_cache", write_two_files, description={})
    finally:
        os.umask(umask)
    assert destination.stat().st_mode & 0o777 == 0o755
    assert (destination / COMPLETE_MARKER).stat().st_mode & 0o777 == 0o644


def test_an_incomplete_folder_under_the_real_name_is_refused(tmp_path):
    destination = tmp_path / "thing"
    destination.mkdir()
    (destination / "config.json").write_text("{}")
    with pytest.raises(AutodeployError, match="not a complete autodeploy cache folder"):
        materialize_folder(destination, write_two_files, description={})
    assert sorted(os.listdir(destination)) == ["config.json"]
