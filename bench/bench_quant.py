"""Decode speed of SmolLM2-135M-Instruct with fusions, bfloat16 and quantized weights, against
Hugging Face ``generate``; peak memory; and each configuration's fraction of its own matmul ceiling.

Configurations (each measured in its own process, so its peak RSS is its own):

- ``hf_generate_fp32`` / ``hf_generate_bf16``: the baselines, ``generate(use_cache=True)``, greedy,
  64 new tokens (EOS off), from a 16-token prompt; batch 8 = 8 different prompts of that length.
- ``graph_fp32_unfused``: the ``graph`` preset with the fusions of autodeploy-plugin-fusions off.
- ``graph_fp32``: the ``graph`` preset (fusions on).
- ``graph_bf16``: the same with ``dtype: bfloat16``.
- ``graph_bf16_int8``: bf16 plus ``quantize_int8_linear`` (int8pack kernel, lm_head kept bf16).
- ``graph_bf16_int8_all``: the same with the lm_head quantized too (``exclude_modules: []``).
- ``graph_bf16_int4``: bf16 plus ``quantize_int4_linear`` (group 32, int4pack kernel).

How the graph sides are timed: the KV-cached runtime (issue 12) is not on main when this was
written, so a graph side times **one decode step directly**: the module called on one new token per
sequence (``input_ids [B, 1]``), i.e. every weight read once, per-op overhead, norms and the lm_head,
but not attention over cached tokens (at <= 80 cached tokens of a 135M model that is a small
part). tokens/s = B / step time. ``generate`` does all of its real work, cache included.

Matmul ceiling: one token's matrix products alone (every linear of the module, with the same
kernel, dtype and weights, on ``[B, 1, in]`` inputs), timed in the same process. "of ceiling" is
the configuration's tokens/s over the ceiling's.

Times are medians over ``--repeat`` rounds (best-of reported too: on a loaded 2-core machine the
fastest run is the least disturbed). Ratios are against ``hf_generate_fp32`` at the same batch.
llama.cpp is not installed here: its single-stream figure on the shipped Q4_1 file (~85 tok/s on
this machine, measured when the issue was filed) is quoted, not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import environment, print_table, write_json

NEW_TOKENS = 64
PROMPT_LEN = 16
BATCHES = (1, 8)
LLAMA_CPP_QUOTED_TOKENS_PER_S = 85.0
FUSIONS = (
    "match_rmsnorm_pattern",
    "match_swiglu_pattern",
    "eliminate_redundant_transposes",
    "fuse_gemms",
    "fuse_rmsnorm",
    "fuse_add_rms_norm",
    "fuse_swiglu",
)
CONFIGS: dict[str, dict[str, Any]] = {
    "hf_generate_fp32": {"hf": True, "dtype": "float32"},
    "hf_generate_bf16": {"hf": True, "dtype": "bfloat16"},
    "graph_fp32_unfused": {"transforms": {key: {"enabled": False} for key in FUSIONS}},
    "graph_fp32": {},
    "graph_bf16": {"dtype": "bfloat16"},
    "graph_bf16_int8": {"dtype": "bfloat16", "transforms": {"quantize_int8_linear": {"enabled": True}}},
    "graph_bf16_int8_all": {
        "dtype": "bfloat16",
        "transforms": {"quantize_int8_linear": {"enabled": True, "exclude_modules": []}},
    },
    "graph_bf16_int4": {"dtype": "bfloat16", "transforms": {"quantize_int4_linear": {"enabled": True}}},
}
LINEAR_TARGETS = ("aten.linear.default", "autodeploy.int8_weight_linear.default", "autodeploy.int4_weight_linear.default")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per measurement (medians taken)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), help="which configurations to run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def resolve_smollm2() -> str:
    from autodeploy import PluginHost

    cache = os.environ.get("AUTODEPLOY_CACHE_DIR", str(Path.home() / ".cache" / "autodeploy"))
    host = PluginHost.from_environment()
    return host.hook.autodeploy_resolve_model(name=None, cache_dir=cache)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def prompts(batch: int, vocab: int):
    import torch

    generator = torch.Generator().manual_seed(batch)
    return torch.randint(100, min(vocab, 20000), (batch, PROMPT_LEN), generator=generator)


def median_and_best(run, repeat: int) -> tuple[float, float]:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


# -- matmul ceilings ----------------------------------------------------------------------------


def graph_matmul_calls(module, batch: int):
    """Every linear-like call of `module`'s graphs, with its weights, on a fresh [batch, 1, in] input."""
    import torch

    calls = []
    for gm in module.modules():
        if not isinstance(gm, torch.fx.GraphModule):
            continue
        for node in gm.graph.nodes:
            if node.op != "call_function" or str(node.target) not in LINEAR_TARGETS:
                continue

            def value(arg, gm=gm):
                if isinstance(arg, torch.fx.Node) and arg.op == "get_attr":
                    owner, _, leaf = str(arg.target).rpartition(".")
                    return getattr(gm.get_submodule(owner) if owner else gm, leaf)
                return arg

            args = [value(a) for a in node.args]
            kwargs = {k: value(v) for k, v in node.kwargs.items()}
            x_meta = node.args[0].meta.get("val") if isinstance(node.args[0], torch.fx.Node) else None
            in_features = x_meta.shape[-1] if x_meta is not None else None
            if str(node.target) == "aten.linear.default":
                in_features = args[1].shape[1]
                dtype = args[1].dtype
            else:
                dtype = x_meta.dtype if x_meta is not None else torch.float32
                if str(node.target).startswith("autodeploy.int8"):
                    in_features = args[1].shape[1]
                else:
                    in_features = args[2].shape[0] * args[3]
            args[0] = torch.randn(batch, 1, int(in_features), dtype=dtype)
            calls.append((node.target, args, kwargs))
    return calls


def hf_matmul_calls(model, batch: int):
    import torch

    calls = []
    for sub in model.modules():
        if isinstance(sub, torch.nn.Linear):
            x = torch.randn(batch, 1, sub.in_features, dtype=sub.weight.dtype)
            calls.append((torch.ops.aten.linear.default, [x, sub.weight, sub.bias], {}))
    return calls


def run_calls(calls) -> None:
    for target, args, kwargs in calls:
        target(*args, **kwargs)


# -- one configuration, in a worker process -----------------------------------------------------


def worker(name: str, model_dir: str, repeat: int) -> dict[str, Any]:
    import torch

    config = CONFIGS[name]
    result: dict[str, Any] = {"config": name, "rows": []}
    with torch.no_grad():
        if config.get("hf"):
            from transformers import AutoModelForCausalLM

            dtype = getattr(torch, config["dtype"])
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval()
            model.generation_config.eos_token_id = None
            model.generation_config.pad_token_id = 0
            vocab = model.config.vocab_size
            for batch in BATCHES:
                ids = prompts(batch, vocab)

                def generate(ids=ids):
                    return model.generate(
                        input_ids=ids,
                        attention_mask=torch.ones_like(ids),
                        max_new_tokens=NEW_TOKENS,
                        min_new_tokens=NEW_TOKENS,
                        do_sample=False,
                        use_cache=True,
                    )

                median, best = median_and_best(generate, repeat)
                calls = hf_matmul_calls(model, batch)
                ceiling = median_and_best(lambda calls=calls: run_calls(calls), repeat)
                result["rows"].append(_row(batch, batch * NEW_TOKENS / median, batch * NEW_TOKENS / best, batch / ceiling[0]))
        else:
            from autodeploy import CachedSequenceInterface, InferenceOptimizer, PluginHost

            host = PluginHost.from_environment()
            factory = host.factory_class("AutoModelForCausalLM")(model=model_dir)
            pipeline = {"mode": "graph", "transforms": config.get("transforms", {})}
            if "dtype" in config:
                pipeline["dtype"] = config["dtype"]
            start = time.perf_counter()
            run = InferenceOptimizer(factory, pipeline, host=host).run(
                CachedSequenceInterface(max_seq_len=128, max_batch_size=max(BATCHES))
            )
            result["pipeline_s"] = round(time.perf_counter() - start, 2)
            result["details"] = {r.key: r.details for r in run.report.records if r.details}
            module = run.module
            for batch in BATCHES:
                ids = prompts(batch, 49152)[:, :1]
                median, best = median_and_best(lambda ids=ids: module(input_ids=ids), repeat * 4)
                calls = graph_matmul_calls(module, batch)
                ceiling = median_and_best(lambda calls=calls: run_calls(calls), repeat * 4)
                result["rows"].append(_row(batch, batch / median, batch / best, batch / ceiling[0]))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def _row(batch: int, tokens_per_s: float, best_tokens_per_s: float, ceiling_tokens_per_s: float) -> dict[str, Any]:
    return {
        "batch": batch,
        "tokens_per_s": round(tokens_per_s, 2),
        "best_tokens_per_s": round(best_tokens_per_s, 2),
        "matmul_ceiling_tokens_per_s": round(ceiling_tokens_per_s, 2),
        "of_ceiling": round(tokens_per_s / ceiling_tokens_per_s, 3),
    }


def main() -> int:
    args = parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.worker:
        args.out.write_text(json.dumps(worker(args.worker, args.model, args.repeat)))
        return 0
    model_dir = resolve_smollm2()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            out = Path(tmp) / f"{name}.json"
            argv = [sys.executable, __file__, "--worker", name, "--model", model_dir, "--out", str(out)]
            argv += ["--repeat", str(args.repeat)] + (["--threads", str(args.threads)] if args.threads else [])
            print(f"[bench_quant] {name} ...", file=sys.stderr, flush=True)
            subprocess.run(argv, check=True)
            results.append(json.loads(out.read_text()))
    baseline = {row["batch"]: row["tokens_per_s"] for r in results if r["config"] == "hf_generate_fp32" for row in r["rows"]}
    table = []
    for r in results:
        for row in r["rows"]:
            ratio = row["tokens_per_s"] / baseline[row["batch"]] if row["batch"] in baseline else None
            table.append(
                {
                    "config": r["config"],
                    **row,
                    "vs_hf_fp32": round(ratio, 2) if ratio else None,
                    "peak_rss_mb": r["peak_rss_mb"],
                }
            )
    print_table(
        table,
        ("config", "batch", "tokens_per_s", "best_tokens_per_s", "matmul_ceiling_tokens_per_s", "of_ceiling", "vs_hf_fp32", "peak_rss_mb"),
    )
    print(f"llama.cpp (quoted, not measured here): ~{LLAMA_CPP_QUOTED_TOKENS_PER_S:.0f} tokens/s single stream on the Q4_1 file")
    write_json(
        args.json,
        {
            "benchmark": "bench_quant",
            "environment": environment(threads=args.threads),
            "decode_measure": "graph sides: one decode step (input_ids [B, 1]) timed directly; the KV-cached runtime was not on main",
            "llama_cpp_quoted_tokens_per_s": LLAMA_CPP_QUOTED_TOKENS_PER_S,
            "rows": table,
            "details": {r["config"]: r.get("details", {}) for r in results},
            "pipeline_s": {r["config"]: r.get("pipeline_s") for r in results},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
