"""Shared by the kv-cache tests: a tiny model of each architecture through a preset pipeline.

The models are built in memory with real random weights (`autodeploy.testing.tiny_hf`), so the
factory and weight-loading transforms of the presets are disabled; everything else runs as the
preset configures it (export, cleanups, attention matchers, cache_init, compile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from autodeploy import CachedSequenceInterface, InferenceOptimizer, RunReport
from autodeploy.graph import logits_of, new_pipeline_module
from autodeploy.testing import tiny_hf_model

MAX_SEQ_LEN = 96
MAX_BATCH = 4
NO_FACTORY = {
    "graph": {"build_model": {"enabled": False}, "load_weights": {"enabled": False}},
    "transformers": {"build_and_load_factory_model": {"enabled": False}},
}


@dataclass
class Optimized:
    """An eager model and the module its mode's preset made of it, with the interface and report."""

    arch: str
    mode: str
    eager: Any
    module: Any
    cm: CachedSequenceInterface
    report: RunReport

    def matches(self, key: str) -> int:
        return next(record.num_matches for record in self.report.records if record.key == key)

    def step(self, tokens: list[list[int]], input_pos: list[int], cache_loc: list[int]) -> torch.Tensor:
        """Run one packed step; the logits of every packed token, ``[T, vocab]``."""
        self.cm.nest_sequences(tokens, input_pos, cache_loc)
        with torch.no_grad():
            return logits_of(self.module(**self.cm.named_args))[0]


def optimize(arch: str, mode: str, attn_implementation: str = "sdpa", transforms: dict | None = None) -> Optimized:
    eager = tiny_hf_model(arch, attn_implementation)
    container = new_pipeline_module()
    # a twin with the same seeded weights: transformers mode changes the model's attention function
    container.factory_model = tiny_hf_model(arch, attn_implementation)
    cm = CachedSequenceInterface(max_seq_len=MAX_SEQ_LEN, max_batch_size=MAX_BATCH)
    config = {"mode": mode, "transforms": {**NO_FACTORY[mode], **(transforms or {})}}
    result = InferenceOptimizer(None, config).run(cm, container)
    return Optimized(arch, mode, eager, result.module, cm, result.report)


def eager_logits(model: Any, ids: list[int]) -> torch.Tensor:
    """The eager model's logits over one whole sequence, ``[len, vocab]``."""
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]


def random_ids(length: int, seed: int) -> list[int]:
    return torch.randint(3, 128, (length,), generator=torch.Generator().manual_seed(seed)).tolist()
