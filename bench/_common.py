"""Small helpers shared by the benchmark scripts: medians, ratios, a table and a JSON result."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (median taken)")
    return parser.parse_args()


def time_command(argv: Sequence[str], repeat: int) -> float:
    """Median wall time of running `argv` in a fresh process, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [[str(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(c[i]) for c in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    """Write `data` to `path` (nothing when None) atomically, as everything the project writes."""
    if path is None:
        return
    from autodeploy.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    print(f"results written to {path}", file=sys.stderr)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS has none): timings on a shared
    machine mean little without them."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return []


def environment(**extra: Any) -> dict[str, Any]:
    """Where the numbers were measured: versions, CPUs and load, plus `extra` (e.g. torch threads).

    Versions come from the installed distributions' metadata: asking never imports torch.
    """
    from importlib import metadata

    info: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for name in ("torch", "transformers"):
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    info["load_average"] = load_average()
    info.update(extra)
    return info


def rounded(values: Sequence[float], digits: int = 4) -> list[float]:
    return [round(value, digits) for value in values]
