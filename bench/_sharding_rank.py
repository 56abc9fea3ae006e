"""One rank of bench_sharding: build the graph pipeline, generate, report memory and times as JSON.

Run as a script, either alone (world size 1) or under torch's launcher (world size 2).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from autodeploy import CachedSequenceInterface, PluginHost
from autodeploy.distributed import DistributedContext
from autodeploy.generation import greedy_generate
from autodeploy.optimizer import InferenceOptimizer

PROFILED_STEPS = 4  # a prefill of 16 tokens and 3 decode steps


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not carry the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def isolated_reduce_ms(hidden: int, calls_per_step: float) -> float:
    """Median time of one decode step's all-reduces ([1, 1, hidden] each) with nothing else running."""
    import torch.distributed as dist

    if not calls_per_step or not dist.is_initialized():
        return 0.0
    tensor = torch.ones(1, 1, hidden)
    times = []
    for index in range(60):
        tick = time.perf_counter()
        dist.all_reduce(tensor)
        if index >= 10:  # after a warm-up
            times.append(time.perf_counter() - tick)
    return statistics.median(times) * 1000 * calls_per_step


def main(folder: str, out: str, new_tokens: int) -> None:
    context = DistributedContext.from_env()
    import transformers  # noqa: F401 - imported before the baseline, as every run imports it

    baseline_mb = peak_rss_mb()
    host = PluginHost.from_environment()
    factory = host.factory_class("AutoModelForCausalLM")(model=folder)
    cm = CachedSequenceInterface(max_seq_len=128, max_batch_size=1)
    tick = time.perf_counter()
    module = InferenceOptimizer(factory, {"mode": "graph"}, host=host).run(cm).module
    build_s = time.perf_counter() - tick
    ids = torch.tensor([list(range(1, 17))])
    with torch.no_grad():
        # through the KV cache, as run and serve decode (each rank caches its heads)
        greedy_generate(module, ids, 2, cm=cm)  # warm-up
        tick = time.perf_counter()
        greedy_generate(module, ids, new_tokens, cm=cm)
        generate_s = time.perf_counter() - tick
        peak_mb = peak_rss_mb()  # the model's peak: before the profiler's own buffers below
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            greedy_generate(module, ids, PROFILED_STEPS, cm=cm)
    # the op's time includes waiting for the slower rank: an upper bound of the communication
    # c10d's own op: seen whether the graph calls autodeploy::all_reduce through the dispatcher or
    # (compiled with torch-simple) its Python function directly
    reduces = [e for e in profile.key_averages() if e.key == "c10d::allreduce_"]
    reduce_us = sum(e.cpu_time_total for e in reduces)
    calls_per_step = sum(e.count for e in reduces) / PROFILED_STEPS
    weights = sum(t.numel() * t.element_size() for t in module.factory_model.state_dict().values())
    result = {
        "rank": context.rank,
        "world_size": context.world_size,
        "peak_rss_mb": round(peak_mb, 1),
        "baseline_rss_mb": round(baseline_mb, 1),
        "weights_mb": round(weights / 2**20, 1),
        "build_s": round(build_s, 2),
        "tokens_per_s": round(new_tokens / generate_s, 3),
        "all_reduce_ms_per_step": round(reduce_us / 1000 / PROFILED_STEPS, 3),
        # the collective alone: a decode step's all-reduces timed back to back, without the model
        "all_reduce_ms_isolated_per_step": round(
            isolated_reduce_ms(json.loads(Path(folder, "config.json").read_text())["hidden_size"], calls_per_step), 3
        ),
        "threads": torch.get_num_threads(),
        "all_reduce_calls_per_step": calls_per_step,
    }
    Path(out, f"w{context.world_size}-rank{context.rank}.json").write_text(json.dumps(result))
    context.leave_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
