"""The README states the reliability suite's figures, word for word as the catalogue gives them."""

from __future__ import annotations

import subprocess
import sys

from reliability_catalogue import CATEGORIES, handled_total, readme_sentence
from reliability_support import REPO_ROOT, SUITE_DIR


def test_readme_states_the_catalogue_figures():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    sentence = readme_sentence()
    assert sentence in " ".join(readme.split()), (
        "README.md does not state the reliability suite's current figures; put this sentence in its "
        f"'## Reliability' section:\n{sentence}"
    )


def test_catalogue_ids_are_unique_and_every_category_has_cases():
    ids = [case.id for category in CATEGORIES for case in category.cases]
    assert len(ids) == len(set(ids)), sorted(case_id for case_id in ids if ids.count(case_id) > 1)
    assert all(category.cases for category in CATEGORIES)
    assert handled_total() > 0


def test_count_script_prints_the_sentence():
    result = subprocess.run(
        [sys.executable, str(SUITE_DIR / "count_cases.py")], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith(readme_sentence())
