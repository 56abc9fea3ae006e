"""Does an installed plugin accept the running core version?

A plugin built for another core release may import fine and then break in odd ways at run time.
Its distribution says which core it supports (``Requires-Dist: autodeploy-core>=0.1,<0.2``), so
we check that before importing anything and report a plain reason instead.
"""

from __future__ import annotations

from importlib.metadata import Distribution
from typing import Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .._version import __version__ as CORE_VERSION

CORE_DISTRIBUTION = "autodeploy-core"


def core_requirements(distribution: Distribution) -> list[Requirement]:
    """The distribution's requirements on the core that apply here.

    Requirements behind an extra (``extra == "..."``) are ignored: the plugin works without them.
    Markers (python version, platform) are evaluated for this interpreter. Unparsable lines are
    skipped: a broken metadata line is the packaging tool's concern, not a reason to refuse.
    """
    wanted = canonicalize_name(CORE_DISTRIBUTION)
    found = []
    for line in distribution.requires or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != wanted:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        found.append(requirement)
    return found


def core_incompatibility(distribution: Distribution, core_version: str = CORE_VERSION) -> Optional[str]:
    """Why `distribution` cannot run with this core, or None when it can (or does not say)."""
    try:
        version = Version(core_version)
    except InvalidVersion:
        return None  # a development core with an odd version: nothing sensible to compare
    for requirement in core_requirements(distribution):
        if not requirement.specifier.contains(version, prereleases=True):
            return (
                f"requires {CORE_DISTRIBUTION}{requirement.specifier}, "
                f"but {CORE_DISTRIBUTION} {core_version} is running"
            )
    return None
