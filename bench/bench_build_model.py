"""The pipeline's ``build_model`` on Llama-3-8B- and 70B-sized configs against a bare
``AutoModelForCausalLM.from_config`` under ``torch.device("meta")``, in the same process.

For each size a folder holding only ``config.json`` is written to a temporary directory. Both
sides are warmed up once (imports, lazy modeling code), then run alternately ``--repeat`` times:

- ``bare``: ``AutoModelForCausalLM.from_config(config)`` under ``torch.device("meta")``, the
  config object already built (the floor: nothing but the model's construction);
- ``pipeline``: everything a user's call does: make the HF factory from the registered plugin,
  build and validate the optimizer for the ``graph`` mode's ``build_model`` entry, run it (which
  reads ``config.json``, builds on meta, records the transform with its time and memory).

Times are medians; "ratio" is pipeline / bare. Peak RSS growth is the largest RSS above the
RSS before a run, sampled every millisecond by a thread during the run (psutil), the worst of
all runs; ``ru_maxrss`` growth over the whole timed series is reported as a cross-check. Since
the allocator reuses what the previous run freed, RSS shows what a run adds to a warm process;
"traced" is the peak of Python/C allocations made during one (untimed) run, from tracemalloc:
what the module objects themselves cost.

Targets (issue 3): ratio at most 1.2x; peak RSS growth under 100 MB for the 70B config.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from _common import print_table

MB = 1024 * 1024
RATIO_TARGET = 1.2
RSS_TARGET_MB = 100.0
SIZES: dict[str, dict[str, int]] = {
    "llama-3-8b": dict(
        hidden_size=4096,
        num_hidden_layers=32,
        vocab_size=128256,
        intermediate_size=14336,
        num_attention_heads=32,
        num_key_value_heads=8,
    ),
    "llama-3-70b": dict(
        hidden_size=8192,
        num_hidden_layers=80,
        vocab_size=128256,
        intermediate_size=28672,
        num_attention_heads=64,
        num_key_value_heads=8,
    ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per side and size (medians taken)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a target is missed")
    return parser.parse_args()


class PeakRss:
    """Samples the process RSS in a thread while active; `growth_mb` is the peak above the start."""

    def __init__(self, interval_s: float = 0.001):
        self._process = psutil.Process()
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.start_rss = self.peak_rss = 0

    def __enter__(self) -> PeakRss:
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
            time.sleep(self._interval_s)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak_rss - self.start_rss) / MB


def measure(run: Callable[[], Any]) -> tuple[float, float]:
    """(seconds, peak RSS growth in MB) of one call; what it returns is dropped afterwards."""
    gc.collect()
    with PeakRss() as rss:
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
    del result
    return elapsed, rss.growth_mb


def traced_peak_mb(run: Callable[[], Any]) -> float:
    """Peak memory allocated (and traced by tracemalloc) during one call, in MB."""
    gc.collect()
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak / MB


def bench_size(name: str, folder: Path, repeat: int) -> dict[str, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from autodeploy import CachedSequenceInterface, InferenceOptimizer, PluginHost

    host = PluginHost.from_environment()
    factory_class = host.factory_class("AutoModelForCausalLM")
    pipeline_config = {"transforms": {"build_model": host.mode("graph")["build_model"]}}
    cm = CachedSequenceInterface()
    config = AutoConfig.from_pretrained(folder)

    def bare() -> Any:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config)

    def pipeline() -> Any:
        factory = factory_class(model=str(folder), skip_loading_weights=True)
        return InferenceOptimizer(factory, pipeline_config, host=host).run(cm).module

    module = pipeline()  # warm-up, and a check that the pipeline built what it should
    model = module.factory_model
    assert all(p.is_meta for p in model.parameters()), "the pipeline's model has parameters off meta"
    params = sum(p.numel() for p in model.parameters())
    del module, model
    bare()

    times: dict[str, list[float]] = {"bare": [], "pipeline": []}
    growth: dict[str, list[float]] = {"bare": [], "pipeline": []}
    maxrss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(repeat):
        for side, run in (("pipeline", pipeline), ("bare", bare)):
            elapsed, grown = measure(run)
            times[side].append(elapsed)
            growth[side].append(grown)
    maxrss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before_kb) / 1024
    traced = {"bare": traced_peak_mb(bare), "pipeline": traced_peak_mb(pipeline)}

    bare_s = statistics.median(times["bare"])
    pipeline_s = statistics.median(times["pipeline"])
    return {
        "size": name,
        "parameters": params,
        "bare_median_s": round(bare_s, 5),
        "pipeline_median_s": round(pipeline_s, 5),
        "ratio": round(pipeline_s / bare_s, 3),
        "bare_peak_rss_growth_mb": round(max(growth["bare"]), 1),
        "pipeline_peak_rss_growth_mb": round(max(growth["pipeline"]), 1),
        "ru_maxrss_growth_mb": round(maxrss_growth_mb, 1),
        "bare_traced_peak_mb": round(traced["bare"], 1),
        "pipeline_traced_peak_mb": round(traced["pipeline"], 1),
        "bare_times_s": [round(t, 5) for t in times["bare"]],
        "pipeline_times_s": [round(t, 5) for t in times["pipeline"]],
    }


def check_targets(rows: list[dict[str, Any]]) -> list[str]:
    """The targets missed, one line each (empty when all are met)."""
    missed = []
    for row in rows:
        if row["ratio"] > RATIO_TARGET:
            missed.append(f"{row['size']}: ratio {row['ratio']}x exceeds {RATIO_TARGET}x")
    for row in rows:
        if row["size"] == "llama-3-70b" and row["pipeline_peak_rss_growth_mb"] >= RSS_TARGET_MB:
            missed.append(
                f"{row['size']}: peak RSS growth {row['pipeline_peak_rss_growth_mb']} MB >= {RSS_TARGET_MB} MB"
            )
    return missed


def main() -> int:
    args = parse_args()
    from transformers import LlamaConfig

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_build_model_") as tmp:
        for name, sizes in SIZES.items():
            folder = Path(tmp) / name
            LlamaConfig(**sizes).save_pretrained(folder)
            rows.append(bench_size(name, folder, args.repeat))

    columns = [
        "size",
        "parameters",
        "bare_median_s",
        "pipeline_median_s",
        "ratio",
        "bare_peak_rss_growth_mb",
        "pipeline_peak_rss_growth_mb",
        "ru_maxrss_growth_mb",
        "bare_traced_peak_mb",
        "pipeline_traced_peak_mb",
    ]
    print_table([{**row, "parameters": f"{row['parameters'] / 1e9:.1f}B"} for row in rows], columns)
    missed = check_targets(rows)
    print("targets met" if not missed else "targets missed:\n  " + "\n  ".join(missed))

    if args.json is not None:
        import torch
        import transformers

        from autodeploy.atomic import atomic_write_text

        result = {
            "benchmark": "build_model",
            "targets": {"ratio_max": RATIO_TARGET, "peak_rss_growth_mb_max_70b": RSS_TARGET_MB},
            "targets_missed": missed,
            "repeat": args.repeat,
            "environment": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "cpus": psutil.cpu_count(),
            },
            "results": rows,
        }
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
        print(f"results written to {args.json}", file=sys.stderr)
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
