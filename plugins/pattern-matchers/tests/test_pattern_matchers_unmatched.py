"""An attention layer the matchers cannot rewrite fails the pipeline, naming that layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autodeploy import CachedSequenceInterface, InferenceOptimizer, TransformError
from autodeploy.graph import new_pipeline_module

pytestmark = pytest.mark.slow


class Attention(nn.Module):
    def __init__(self, size: int, heads: int, learned_temperature: bool):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(size, 3 * size)
        self.out = nn.Linear(size, size)
        # a temperature the model learns: the scale is a tensor, not a number the matcher can read
        self.temperature = nn.Parameter(torch.tensor(0.3)) if learned_temperature else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        q, k, v = (t.view(b, s, self.heads, -1).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        if self.temperature is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-1, -2)) * self.temperature
            mask = torch.ones(s, s, dtype=torch.bool, device=x.device).tril()
            out = scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        return self.out(out.transpose(1, 2).reshape(b, s, -1))


class TwoLayerLM(nn.Module):
    """Layer 0 attends through sdpa (matched), layer 1 through a learned temperature (not)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(32, 16)
        self.layers = nn.ModuleList([Attention(16, 2, False), Attention(16, 2, True)])
        self.head = nn.Linear(16, 32)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        for layer in self.layers:
            x = x + layer(x)
        return self.head(x)


def test_an_unmatched_attention_layer_fails_naming_it():
    container = new_pipeline_module()
    container.factory_model = TwoLayerLM().eval()
    config = {"mode": "graph", "transforms": {"build_model": {"enabled": False}, "load_weights": {"enabled": False}}}
    with pytest.raises(TransformError) as raised:
        InferenceOptimizer(None, config).run(CachedSequenceInterface(max_seq_len=16, max_batch_size=2), container)
    message = str(raised.value)
    assert "match_attention_layout" in message
    assert "layers.1" in message and "was not matched" in message
    assert "1 attention layer(s) were" in message  # layer 0's sdpa was matched
