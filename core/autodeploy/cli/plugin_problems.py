"""Telling the user about broken plugins while a command goes on without them.

A broken third-party plugin must not take the command line down, but it must not vanish silently
either: a user whose transform "does not exist" needs to learn that its plugin failed to import.
Commands that use plugins print one warning line per problem (plugin, distribution, version and
error) on stderr, then do their work; ``--strict-plugins`` turns the same problems into an error.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional, TextIO

from ..plugin.controls import BLOCK_VAR
from .output import write_text

if TYPE_CHECKING:
    from ..plugin import PluginHost


def warn_about_plugin_problems(host: PluginHost, stream: Optional[TextIO] = None) -> int:
    """Print every plugin problem as a ``warning:`` line, then how to act on them; returns the count."""
    problems = host.problems()
    if not problems:
        return 0
    out = stream or sys.stderr
    for problem in problems:
        write_text(f"warning: {problem}", out)
    write_text(
        f"warning: {len(problems)} plugin problem(s); a plugin that did not load provides nothing "
        f"(`autodeploy list-plugins` shows every plugin; block one with -p no:NAME or {BLOCK_VAR}; "
        "--strict-plugins makes plugin problems an error)",
        out,
    )
    return len(problems)
