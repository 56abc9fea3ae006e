"""One rank's share of the sharding tests: build each tiny model's pipeline, record what it gives.

Run by the tests under torch's launcher (``python -m torch.distributed.run --nproc-per-node 2
sharding_worker.py OUT CASES``) and, for world size 1, imported and called in the test process;
every rank writes ``OUT/rank<N>.json`` with, per case: the logits of a fixed prompt, 32 greedy
tokens, and the bytes of the split and of the replicated weights it holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from autodeploy import CachedSequenceInterface, InferenceOptimizer, PluginHost, SharedConfig
from autodeploy.distributed import DistributedContext, weight_slices
from autodeploy.graph import greedy_generate, logits_of, named_graphmodules

PROMPT = [1, 5, 9, 20, 3, 7, 11, 2]
NEW_TOKENS = 32
# the plan a user would write for a Llama-like model (the same as transformers' own)
MANUAL_PLAN = {
    "layers.*.self_attn.q_proj": "colwise",
    "layers.*.self_attn.k_proj": "colwise",
    "layers.*.self_attn.v_proj": "colwise",
    "layers.*.self_attn.o_proj": "rowwise",
    "layers.*.mlp.gate_proj": "colwise",
    "layers.*.mlp.up_proj": "colwise",
    "layers.*.mlp.down_proj": "rowwise",
}


def run_case(folder: str, source: str, shared_config: SharedConfig) -> dict[str, Any]:
    host = PluginHost.from_environment()
    factory = host.factory_class("AutoModelForCausalLM")(model=folder)
    detect: dict[str, Any] = {"sharding_source": [source]}
    if source == "manual":
        detect["manual_config"] = {"tp_plan": MANUAL_PLAN}
    config = {"mode": "graph", "transforms": {"detect_sharding": detect}}
    cm = CachedSequenceInterface(max_seq_len=64, max_batch_size=2)
    result = InferenceOptimizer(factory, config, host=host, shared_config=shared_config).run(cm)
    module = result.module
    ids = torch.tensor([PROMPT])
    with torch.no_grad():
        logits = logits_of(module(input_ids=ids))
        # through the KV cache (cache_init ran after sharding: each rank caches only its heads)
        tokens = greedy_generate(module, ids, NEW_TOKENS, cm=cm)[0, len(PROMPT) :].tolist()
    sliced: set[str] = set()
    bytes_by_name: dict[str, int] = {}
    for _, graph in named_graphmodules(module):
        sliced.update(weight_slices(graph))
        for name, tensor in graph.state_dict().items():
            bytes_by_name[name] = tensor.numel() * tensor.element_size()
        break  # the outermost graph holds every weight
    (detection,) = result.report.by_key("detect_sharding")
    return {
        "logits": logits[0].tolist(),
        "tokens": tokens,
        "bytes_by_name": bytes_by_name,  # after the fusions: joined weights have new names
        "sliced": sorted(sliced),
        "detected": detection.num_matches,
        "cache_bytes": cm.cache_bytes(),
    }


def sampled_tokens() -> list[int]:
    """Tokens drawn at temperature 1 from flat logits for unseeded requests: each rank seeds their
    generators at random, so only the ranks' agreement (rank 0's draws) makes them equal."""
    from autodeploy.runtime import SamplingParams, new_generator, sample_tokens

    params = [SamplingParams(temperature=1.0)] * 32
    return sample_tokens(torch.zeros(32, 1000), params, [new_generator(p, "cpu") for p in params])


def main(out: str, cases: str) -> None:
    context = DistributedContext.from_env()
    shared = SharedConfig(local_rank=context.rank, world_size=context.world_size)
    results = {}
    for case in json.loads(cases):
        results[f"{case['arch']}/{case['source']}"] = run_case(case["folder"], case["source"], shared)
    results["sampled"] = sampled_tokens()
    Path(out, f"rank{context.rank}.json").write_text(json.dumps(results))
    context.leave_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
