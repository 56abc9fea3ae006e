"""Writing the pages into a folder and telling which pages there are stale."""

from autodeploy.docs import compare_pages, write_pages
from autodeploy.docs.render import GENERATED_NOTE


def page(body: str) -> str:
    return f"{GENERATED_NOTE}\n\n{body}\n"


def test_write_then_compare_finds_nothing(tmp_path):
    pages = {"index.md": page("# Index"), "core.md": page("# Core")}
    written = write_pages(pages, tmp_path / "ref")
    assert written.missing == ("core.md", "index.md")
    assert (tmp_path / "ref" / "index.md").read_text() == pages["index.md"]
    assert not compare_pages(pages, tmp_path / "ref")


def test_changed_missing_and_no_longer_generated_pages_are_named(tmp_path):
    old = {"index.md": page("# Index"), "core.md": page("# Core"), "gone-stage.md": page("# Gone")}
    write_pages(old, tmp_path)
    (tmp_path / "notes.md").write_text("# Hand-written notes\n")  # not generated: never touched
    new = {"index.md": page("# Index, new"), "core.md": old["core.md"], "new-stage.md": page("# New")}

    differences = compare_pages(new, tmp_path)
    assert differences.changed == ("index.md",)
    assert differences.missing == ("new-stage.md",)
    assert differences.extra == ("gone-stage.md",)
    assert differences.describe() == [
        "gone-stage.md: no longer generated",
        "index.md: differs from the generated page",
        "new-stage.md: missing",
    ]

    write_pages(new, tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["core.md", "index.md", "new-stage.md", "notes.md"]
    assert not compare_pages(new, tmp_path)


def test_unchanged_pages_are_not_rewritten(tmp_path):
    pages = {"index.md": page("# Index")}
    write_pages(pages, tmp_path)
    before = (tmp_path / "index.md").stat().st_mtime_ns
    differences = write_pages(pages, tmp_path)
    assert not differences
    assert (tmp_path / "index.md").stat().st_mtime_ns == before
