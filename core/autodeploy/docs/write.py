"""Writing the reference pages into a folder, and telling which committed pages are stale.

Pages are written atomically, and only when their text changed (so timestamps of unchanged
pages stay put). A page we generated earlier that is no longer generated (a plugin was removed)
is deleted; files we did not generate (they lack the generated note) are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write_text
from .render import GENERATED_NOTE

PAGE_SUFFIX = ".md"


@dataclass(frozen=True)
class PageDifferences:
    """How a folder differs from the pages that would be generated now."""

    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changed or self.missing or self.extra)

    def describe(self) -> list[str]:
        """One line per differing page, sorted by name."""
        lines = [f"{name}: differs from the generated page" for name in self.changed]
        lines += [f"{name}: missing" for name in self.missing]
        lines += [f"{name}: no longer generated" for name in self.extra]
        return sorted(lines)


def compare_pages(pages: Mapping[str, str], out_dir: Path) -> PageDifferences:
    """Compare generated `pages` (name -> text) with the files in `out_dir`."""
    changed, missing = [], []
    for name, text in sorted(pages.items()):
        path = out_dir / name
        if not path.is_file():
            missing.append(name)
        elif path.read_text(encoding="utf-8") != text:
            changed.append(name)
    extra = [name for name in _generated_pages_in(out_dir) if name not in pages]
    return PageDifferences(tuple(changed), tuple(missing), tuple(extra))


def write_pages(pages: Mapping[str, str], out_dir: Path) -> PageDifferences:
    """Make `out_dir` hold exactly `pages` (plus any files we did not generate); return what changed."""
    differences = compare_pages(pages, out_dir)
    for name in (*differences.changed, *differences.missing):
        atomic_write_text(out_dir / name, pages[name])
    for name in differences.extra:
        (out_dir / name).unlink()
    return differences


def _generated_pages_in(out_dir: Path) -> list[str]:
    if not out_dir.is_dir():
        return []
    names = []
    for path in sorted(out_dir.glob(f"*{PAGE_SUFFIX}")):
        try:
            with path.open(encoding="utf-8") as handle:
                first_line = handle.readline().rstrip("\n")
        except (OSError, UnicodeDecodeError):
            continue
        if first_line == GENERATED_NOTE:
            names.append(path.name)
    return names
