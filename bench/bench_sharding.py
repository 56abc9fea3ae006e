"""Tensor parallelism on this machine: memory per rank and speed at world size 2 against 1.

A random Llama of ~0.5 GB (fp32, sharded into 64 MB safetensors files as Hugging Face saves big
checkpoints) runs through the ``graph`` preset once as one process and once as 2 ranks (gloo,
started through torch's launcher as ``run --world-size 2`` does). Each rank reports its peak RSS,
the RSS before the model (torch and transformers imported), the bytes of the weights it holds,
the greedy tokens/s through the KV cache (batch 1, 16-token prompt) and the time its all-reduces
take per step (mean over a prefill and 3 decode steps; it includes waiting for the slower rank),
and, apart, one decode step's all-reduces timed alone (the collective's own cost). Each rank runs
with torch's threads as torchrun sets them (1 per rank at world size 2): the `threads` column.

Target: peak RSS per rank at world size 2 at most 0.6x world size 1's. "above baseline" ratios
take out what every Python process with torch holds before any weight is read. On a 2-core
machine no speed-up is expected: the ranks share the cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import environment, parse_args, print_table, write_json

HERE = Path(__file__).parent
NEW_TOKENS = 16


def make_checkpoint(folder: Path) -> None:
    import torch
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=8192,
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=7,
        num_attention_heads=16,
        num_key_value_heads=8,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder, max_shard_size="64MB")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK"))}
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp, "model"), Path(tmp, "out")
        out.mkdir()
        # in a child: the checkpoint's ~0.5 GB must not count in anyone's peak
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import bench_sharding as b, pathlib; b.make_checkpoint(pathlib.Path({str(folder)!r}))",
            ],
            check=True,
            cwd=HERE,
            env=env,
        )
        rank_script = str(HERE / "_sharding_rank.py")
        subprocess.run([sys.executable, rank_script, str(folder), str(out), str(NEW_TOKENS)], check=True, env=env)
        subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
             rank_script, str(folder), str(out), str(NEW_TOKENS)],
            check=True, env=env,
        )  # fmt: skip
        rows = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    single = next(row for row in rows if row["world_size"] == 1)
    for row in rows:
        row["rss_ratio"] = round(row["peak_rss_mb"] / single["peak_rss_mb"], 3)
        above, above_single = (
            row["peak_rss_mb"] - row["baseline_rss_mb"],
            single["peak_rss_mb"] - single["baseline_rss_mb"],
        )
        row["rss_above_baseline_ratio"] = round(above / above_single, 3)
        row["tokens_per_s_ratio"] = round(row["tokens_per_s"] / single["tokens_per_s"], 3)
    print_table(rows, ["world_size", "rank", "peak_rss_mb", "baseline_rss_mb", "weights_mb", "rss_ratio",
                       "rss_above_baseline_ratio", "tokens_per_s", "tokens_per_s_ratio", "threads", "all_reduce_ms_per_step",
                       "all_reduce_ms_isolated_per_step"])  # fmt: skip
    worst = max(row["rss_ratio"] for row in rows if row["world_size"] == 2)
    print(f"peak RSS per rank at world size 2 / world size 1: {worst:.3f} (target <= 0.6)")
    write_json(
        args.json, {"environment": environment(), "rows": rows, "target_rss_ratio": 0.6, "worst_rss_ratio": worst}
    )


if __name__ == "__main__":
    main()
