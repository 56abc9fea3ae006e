"""Wall time of the README's demo, ``python -m autodeploy run``, first run against later runs.

The demo (no arguments: the embedded SmolLM2-135M-Instruct, ``graph`` mode) runs in a fresh
process each time, with ``AUTODEPLOY_CACHE_DIR`` pointed at a new temporary folder:

- ``graph first``: the cache is empty, so the run includes converting the GGUF file once into a
  safetensors checkpoint (the baseline of the ratios);
- ``graph later``: ``--later`` more runs of the same command on the same cache;
- ``transformers later``: ``--transformers-runs`` runs of ``run --mode transformers`` on the same
  cache (the Hugging Face module as it is, no export), interleaved with the graph ones so that
  load drift on a shared machine hits both alike.

Each run's output is parsed: the answer (the text between the ``prompt (...)`` line and the
``generated N token(s)`` line) must contain "Paris", and the times the command prints itself (model
ready, pipeline, generation) are kept next to the wall time. Ratios are medians of later runs
over the first run. Reported, not asserted; the exit status is 1 only when a run failed or did
not answer "Paris" (then its time means nothing).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from _common import environment, load_average, print_table, write_json

EXPECTED_WORD = "Paris"
CACHE_DIR_VAR = "AUTODEPLOY_CACHE_DIR"
GRAPH = "graph"
TRANSFORMERS = "transformers"
_READY = re.compile(r"^model: .*ready in (?P<s>[0-9.]+) s\)", re.MULTILINE)
_PIPELINE = re.compile(r"^pipeline: \d+ transform\(s\) in (?P<s>[0-9.]+) s", re.MULTILINE)
_GENERATED = re.compile(r"^generated (?P<n>\d+) token\(s\) in (?P<s>[0-9.]+) s", re.MULTILINE)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--later", type=int, default=2, help="graph-mode runs after the first (same cache)")
    parser.add_argument("--transformers-runs", type=int, default=2, help="runs of --mode transformers (same cache)")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up on one run after this long")
    return parser.parse_args()


def demo_argv(mode: str) -> list[str]:
    """The README's command; the transformers side adds only ``--mode transformers``."""
    argv = [sys.executable, "-m", "autodeploy", "run"]
    return argv if mode == GRAPH else [*argv, "--mode", mode]


def answer_of(stdout: str) -> Optional[str]:
    """The generated text: the lines after ``prompt (...): ...`` up to ``generated N token(s) ...``."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("prompt (")), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if _GENERATED.match(lines[i])), len(lines))
    return "\n".join(lines[start + 1 : end]).strip()


def _seconds(pattern: re.Pattern[str], stdout: str) -> Optional[float]:
    match = pattern.search(stdout)
    return float(match.group("s")) if match else None


def run_demo(label: str, mode: str, cache_dir: Path, timeout_s: float) -> dict[str, Any]:
    """One run of the demo in a fresh process; its wall time, answer and self-reported times."""
    env = {**os.environ, CACHE_DIR_VAR: str(cache_dir)}
    argv = demo_argv(mode)
    print(f"{label}: {' '.join(argv[1:])} (load average {load_average()})", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"label": label, "mode": mode, "ok": False, "error": f"timed out after {timeout_s:.0f} s"}
    wall_s = time.perf_counter() - start
    answer = answer_of(done.stdout)
    generated = _GENERATED.search(done.stdout)
    result: dict[str, Any] = {
        "label": label,
        "mode": mode,
        "wall_s": round(wall_s, 3),
        "returncode": done.returncode,
        "model_ready_s": _seconds(_READY, done.stdout),
        "pipeline_s": _seconds(_PIPELINE, done.stdout),
        "generate_s": _seconds(_GENERATED, done.stdout),
        "new_tokens": int(generated.group("n")) if generated else None,
        "answer": answer,
        "answered_paris": answer is not None and EXPECTED_WORD in answer,
    }
    result["ok"] = done.returncode == 0 and result["answered_paris"]
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()
        result["error"] = tail[-1] if tail else f"exit status {done.returncode}"
    return result


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def median_wall(runs: list[dict[str, Any]]) -> Optional[float]:
    walls = [run["wall_s"] for run in runs if run.get("ok")]
    return statistics.median(walls) if walls else None


def main() -> int:
    args = parse_args()
    load_before = load_average()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        cache_dir = Path(tmp) / "cache"
        runs.append(run_demo("graph first (fresh cache)", GRAPH, cache_dir, args.timeout_s))
        cache_bytes = folder_bytes(cache_dir) if cache_dir.exists() else 0
        plan = [(GRAPH, i) for i in range(args.later)] + [(TRANSFORMERS, i) for i in range(args.transformers_runs)]
        plan.sort(key=lambda item: item[1])  # interleave: graph, transformers, graph, transformers, ...
        for mode, index in plan:
            runs.append(run_demo(f"{mode} later {index + 1}", mode, cache_dir, args.timeout_s))
    load_after = load_average()

    rows = [
        {
            **{key: "-" if value is None else value for key, value in run.items()},
            "wall_s": f"{run['wall_s']:.2f}" if "wall_s" in run else "-",
            "answer": run.get("answer") or run.get("error", ""),
        }
        for run in runs
    ]
    columns = ["label", "wall_s", "model_ready_s", "pipeline_s", "generate_s", "answered_paris", "answer"]
    print_table(rows, columns)

    first = runs[0]["wall_s"] if runs[0].get("ok") else None
    graph_later = median_wall([run for run in runs[1:] if run["mode"] == GRAPH])
    transformers_later = median_wall([run for run in runs if run["mode"] == TRANSFORMERS])
    ratios = {
        "graph_later_vs_first": graph_later / first if first and graph_later else None,
        "transformers_later_vs_first": transformers_later / first if first and transformers_later else None,
        "graph_later_vs_transformers_later": (
            graph_later / transformers_later if graph_later and transformers_later else None
        ),
    }
    print(f"first run (fresh cache, with the GGUF conversion): {first:.2f} s" if first else "first run failed")
    print(f"cache after the first run: {cache_bytes / 1e6:.0f} MB")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}x" if ratio is not None else f"{name}: n/a (a run failed)")
    all_paris = all(run.get("answered_paris") for run in runs)
    print(f"every run answered {EXPECTED_WORD!r}: {all_paris}")
    print(f"load average before {load_before}, after {load_after}")

    write_json(
        args.json,
        {
            "benchmark": "demo",
            "command": "python -m autodeploy run",
            "runs": runs,
            "medians_s": {"graph_first": first, "graph_later": graph_later, "transformers_later": transformers_later},
            "ratios": ratios,
            "cache_bytes_after_first_run": cache_bytes,
            "all_answered_paris": all_paris,
            "environment": environment(load_average_before=load_before),
        },
    )
    return 0 if all(run.get("ok") for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
