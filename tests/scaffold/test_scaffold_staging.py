"""A new plugin appears whole or not at all: its files are written into a hidden temporary sibling
folder, renamed into place in one step; a failure leaves neither a partial plugin nor the
temporary folder. The failures here are real file-system errors, provoked by real paths."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodeploy.atomic import AtomicWriteError
from autodeploy.scaffold import PluginNames, ScaffoldError, render_plugin_files, scaffold_plugin
from autodeploy.scaffold.staging import write_tree_atomically

FILES = {"pyproject.toml": "[project]\n", "src/pkg/__init__.py": '"""pkg."""\n', "tests/test_pkg.py": "x = 1\n"}


def tree(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): path.read_text() for path in folder.rglob("*") if path.is_file()}


def test_writes_every_file_and_leaves_no_temporary_folder(tmp_path: Path) -> None:
    target = write_tree_atomically(tmp_path / "new-plugin", FILES)
    assert target == tmp_path / "new-plugin"
    assert tree(target) == FILES
    assert sorted(path.name for path in tmp_path.iterdir()) == ["new-plugin"]


def test_an_empty_destination_folder_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "new-plugin"
    target.mkdir()
    write_tree_atomically(target, FILES)
    assert tree(target) == FILES
    assert sorted(path.name for path in tmp_path.iterdir()) == ["new-plugin"]


@pytest.mark.parametrize("occupant", ["folder with a file", "file"])
def test_an_occupied_destination_is_refused_and_left_alone(tmp_path: Path, occupant: str) -> None:
    target = tmp_path / "new-plugin"
    if occupant == "file":
        target.write_text("mine\n")
    else:
        target.mkdir()
        (target / "notes.md").write_text("mine\n")
    before = target.read_text() if target.is_file() else tree(target)
    with pytest.raises(ScaffoldError, match="already exists and is not empty"):
        write_tree_atomically(target, FILES)
    assert (target.read_text() if target.is_file() else tree(target)) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["new-plugin"]


def test_a_file_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path) -> None:
    # "src" is written as a file, so "src/pkg/__init__.py" cannot be: a real ENOTDIR midway
    files = {"pyproject.toml": "[project]\n", "src": "a file\n", "src/pkg/__init__.py": "x = 1\n"}
    target = tmp_path / "new-plugin"
    with pytest.raises(AtomicWriteError) as caught:
        write_tree_atomically(target, files)
    assert str(caught.value).startswith(f"cannot write {target / 'src/pkg/__init__.py'}: ")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_keeps_an_empty_destination_folder(tmp_path: Path) -> None:
    target = tmp_path / "new-plugin"
    target.mkdir()
    with pytest.raises(AtomicWriteError):
        write_tree_atomically(target, {"src": "a file\n", "src/x.py": "x = 1\n"})
    assert [path.name for path in tmp_path.iterdir()] == ["new-plugin"] and list(target.iterdir()) == []


class FilledMeanwhile(dict):
    """Files to write whose iteration lets someone else put a file into the destination midway,
    as another process racing the scaffold would."""

    def __init__(self, files: dict[str, str], target: Path):
        super().__init__(files)
        self.target = target

    def items(self) -> Iterator[tuple[str, str]]:  # type: ignore[override]
        for number, item in enumerate(super().items()):
            if number == 1:
                self.target.mkdir(exist_ok=True)
                (self.target / "theirs.txt").write_text("someone else's\n")
            yield item


def test_a_destination_filled_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "new-plugin"
    with pytest.raises(ScaffoldError, match="already exists and is not empty"):
        write_tree_atomically(target, FilledMeanwhile(FILES, target))
    assert tree(target) == {"theirs.txt": "someone else's\n"}
    assert [path.name for path in tmp_path.iterdir()] == ["new-plugin"]


def test_a_file_where_the_parent_folder_should_be(tmp_path: Path) -> None:
    blocker = tmp_path / "plugins"
    blocker.write_text("a file\n")
    target = blocker / "new-plugin"
    with pytest.raises(AtomicWriteError) as caught:
        write_tree_atomically(target, FILES)
    assert str(caught.value).startswith(f"cannot write {target}: {blocker} is a file, not a folder")
    assert [path.name for path in tmp_path.iterdir()] == ["plugins"]


def test_missing_parent_folders_are_made(tmp_path: Path) -> None:
    target = write_tree_atomically(tmp_path / "a" / "b" / "new-plugin", FILES)
    assert tree(target) == FILES


def test_the_plugin_folder_gets_the_permissions_of_any_new_folder(tmp_path: Path) -> None:
    """The temporary folder is renamed, not copied: it must be made like a folder the user makes
    (mode from the umask), not private like `tempfile.mkdtemp`'s."""
    reference = tmp_path / "reference"
    reference.mkdir()
    target = scaffold_plugin("probe", tmp_path)
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    assert tree(target) == render_plugin_files(PluginNames.from_name("probe"))
