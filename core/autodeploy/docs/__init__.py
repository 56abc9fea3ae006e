"""The transform reference, generated from the installed plugins (``python -m autodeploy docs``).

`collect` reads a plugin host into a documentation model, `render` turns it into Markdown pages
and `write` puts them in a folder or says which pages there are stale. None of it imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .collect import Reference, collect_reference
from .render import render_pages
from .write import PageDifferences, compare_pages, write_pages

if TYPE_CHECKING:
    from ..plugin import PluginHost


def generate_pages(host: PluginHost) -> dict[str, str]:
    """Page name -> Markdown for everything `host` has loaded."""
    return render_pages(collect_reference(host))


__all__ = [
    "PageDifferences",
    "Reference",
    "collect_reference",
    "compare_pages",
    "generate_pages",
    "render_pages",
    "write_pages",
]
