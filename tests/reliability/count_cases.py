"""Print the reliability suite's figures: bad inputs by category, the known gaps, and the README's
sentence. Run from anywhere: ``python tests/reliability/count_cases.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from reliability_catalogue import (  # noqa: E402 - the catalogue modules sit next to this script
    CATEGORIES,
    gap_reasons,
    gaps_total,
    handled_total,
    random_total,
    readme_sentence,
)


def main() -> int:
    width = max(len(category.name) for category in CATEGORIES)
    print(f"{'category':<{width}}  tried  handled  known gaps")
    for category in CATEGORIES:
        print(f"{category.name:<{width}}  {len(category.cases):>5}  {category.handled:>7}  {len(category.gaps):>10}")
    print(f"{'total':<{width}}  {handled_total() + gaps_total():>5}  {handled_total():>7}  {gaps_total():>10}")
    print(f"plus {random_total()} random configs (property-based tests)")
    for category in CATEGORIES:
        for case in category.gaps:
            for reason in gap_reasons(case):
                print(f"\nknown gap {case.id} ({category.name}): {reason}")
    print(f"\nREADME.md:\n{readme_sentence()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
