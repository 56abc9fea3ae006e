"""The whole catalogue of bad inputs, by category, and the figures the README states.

The README's sentence is built here from the catalogue (a test holds the README to it), so the
figures cannot go stale: adding a case, or fixing a known gap, changes the sentence the test wants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import reliability_cases_checkpoints
import reliability_cases_commands
import reliability_cases_configs
import reliability_cases_plugins
import reliability_cases_transforms
import reliability_cases_writes
from reliability_bad_input import BadInput

# property-based tests (test_reliability_config_properties.py): how many random inputs each tries
PROPERTY_EXAMPLES = 100
PROPERTIES = ("random config data", "random YAML text")


@dataclass(frozen=True)
class Category:
    name: str  # as the README says it, plural
    cases: Sequence[BadInput]

    @property
    def gaps(self) -> list[BadInput]:
        """Cases someone's code does not handle yet (expected failures in the suite)."""
        return [case for case in self.cases if has_gap(case)]

    @property
    def handled(self) -> int:
        return len(self.cases) - len(self.gaps)


def has_gap(case: BadInput) -> bool:
    return bool(case.known_gap or getattr(case, "gaps", None))


def gap_reasons(case: BadInput) -> list[str]:
    reasons = [case.known_gap] if case.known_gap else []
    return reasons + [f"{mode} mode: {reason}" for mode, reason in getattr(case, "gaps", {}).items()]


CATEGORIES: tuple[Category, ...] = (
    Category("broken plugins", reliability_cases_plugins.CASES),
    Category("bad configs", reliability_cases_configs.CASES),
    Category("damaged checkpoints", reliability_cases_checkpoints.ALL_CASES),
    Category("failing transforms", reliability_cases_transforms.CASES),
    Category("interrupted or impossible writes", reliability_cases_writes.CASES),
    Category("wrong command-line arguments", reliability_cases_commands.CASES),
)


def handled_total() -> int:
    return sum(category.handled for category in CATEGORIES)


def gaps_total() -> int:
    return sum(len(category.gaps) for category in CATEGORIES)


def random_total() -> int:
    return PROPERTY_EXAMPLES * len(PROPERTIES)


def readme_sentence() -> str:
    """What README.md must say, word for word."""
    parts = ", ".join(f"{category.handled} {category.name}" for category in CATEGORIES)
    sentence = (
        f"The reliability suite (`tests/reliability/`) tries {handled_total()} bad inputs ({parts}) "
        f"plus {random_total()} random configs, and each gets a clear error with nothing lost."
    )
    gaps = gaps_total()
    if gaps:
        sentence += (
            f" {gaps} more {'is a known gap' if gaps == 1 else 'are known gaps'}, run as expected failures "
            "until fixed (`python tests/reliability/count_cases.py` lists them)."
        )
    return sentence
