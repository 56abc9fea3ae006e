"""Tied weights as the factory's model defines them.

The module being loaded may have lost a tie's alias names: a graph cleanup after export drops
the ``get_attr`` of ``model.embed_tokens.weight`` when the graph reads the tied tensor through
``lm_head.weight`` only, and deletes the then unused submodule. The checkpoint stores the tied
tensor once under one of its names, which may be the one that is gone. The factory's own model,
built on the meta device (no storage, milliseconds), still has every name; the load asks it
only when a name does not match.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from autodeploy import ModelFactory

logger = logging.getLogger(__name__)

TieGroups = dict[str, tuple[str, ...]]


def factory_tie_groups(factory: ModelFactory) -> TieGroups:
    """Each tied name of the factory's model mapped to all the names of its tensor; {} if unknown."""
    try:
        model = factory.build_model("meta")
    except Exception as exc:  # noqa: BLE001 - ties are a refinement; the load reports what stays unmatched
        logger.debug("could not build %s on meta to find tied weights: %s", factory.describe(), exc)
        return {}
    groups: dict[int, list[str]] = {}
    for name, tensor in (*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)):
        groups.setdefault(id(tensor), []).append(name)
    return {name: tuple(names) for names in groups.values() if len(names) > 1 for name in names}


def lazy_tie_groups(factory: ModelFactory) -> Callable[[], TieGroups]:
    """`factory_tie_groups`, computed on first call and remembered."""
    cache: list[TieGroups] = []

    def get() -> TieGroups:
        if not cache:
            cache.append(factory_tie_groups(factory))
        return cache[0]

    return get
