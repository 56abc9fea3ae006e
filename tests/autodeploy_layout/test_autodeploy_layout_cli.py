"""The command line on AutoDeploy-layout files: every problem at once (exit 1), and the coverage of
AutoDeploy's transform keys by the installed plugins."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

CONFIGS = Path(__file__).parent / "configs"


def autodeploy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTODEPLOY_")}
    return subprocess.run(
        [sys.executable, "-m", "autodeploy", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_validate_reports_every_problem_grouped_and_the_plugins_once():
    result = autodeploy("validate", str(CONFIGS / "many_problems.yaml"))
    assert result.returncode == 1 and result.stdout == ""
    assert "WARNING: unknown top-level setting(s), not used: max_seq_lenght" in result.stderr
    assert "error: 6 problems in the pipeline config:" in result.stderr
    assert result.stderr.count("loaded plugins:") == 1
    assert "Traceback" not in result.stderr
    strict = autodeploy("validate", str(CONFIGS / "many_problems.yaml"), "--strict")
    assert "error: 7 problems in the pipeline config:" in strict.stderr


def test_list_transforms_autodeploy_counts_known_provided_unavailable():
    table = autodeploy("list-transforms", "--autodeploy")
    assert table.returncode == 0, table.stderr
    summary = table.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"AutoDeploy transforms: (\d+) known, (\d+) provided, (\d+) unavailable \((\d+) of them need CUDA kernels\)",
        summary,
    )
    assert match, summary
    data = json.loads(autodeploy("list-transforms", "--autodeploy", "--json").stdout)
    known, provided, unavailable, cuda = map(int, match.groups())
    assert known == data["known"] == provided + unavailable
    assert provided == len(data["provided"]) and unavailable == len(data["unavailable"])
    assert cuda == sum(item["cuda"] for item in data["unavailable"])
    assert {"build_model", "export_to_gm", "cleanup_input_constraints", "compile_model"} <= {
        item["key"] for item in data["provided"]
    }
    assert "fuse_fp8_moe" in {item["key"] for item in data["unavailable"]}
