"""Names derived from keys, shared by the docs generator and the plugin scaffold."""

from __future__ import annotations


def title_from_key(key: str) -> str:
    """``build_and_load_factory_model`` -> ``Build And Load Factory Model``.

    Titles are derived, never written by hand, so a page's title always matches its key.
    """
    return " ".join(word[:1].upper() + word[1:] for word in key.replace("-", "_").replace(".", "_").split("_") if word)
