"""Helpers of the quantization tests: the fixed paragraph, a deep copy, the mean NLL."""

from __future__ import annotations

import copy

import torch

# A fixed paragraph for the likelihood checks (plain English prose, ~90 tokens).
PARAGRAPH = (
    "The river flows slowly through the old town, past the market square and the stone bridge that "
    "was built more than three hundred years ago. In the summer, children swim near the bank while "
    "their parents sit in the shade of the tall trees. When autumn comes, the leaves turn yellow and "
    "red, and the fishermen return to their boats early in the morning, hoping for a good catch "
    "before the cold weather arrives."
)


def fresh_copy(module):
    return copy.deepcopy(module)


def with_positions(module):
    """`module` called as ``module(input_ids=...)``, with the positions 0..L-1 the graph takes."""

    def call(input_ids):
        positions = torch.arange(input_ids.shape[1]).expand_as(input_ids)
        return module(input_ids=input_ids, position_ids=positions)

    return call


def mean_nll(module, ids) -> float:
    """Mean negative log-likelihood per token of `ids` [1, L] under `module`'s next-token logits."""
    from autodeploy.graph import logits_of

    with torch.no_grad():
        logits = logits_of(with_positions(module)(ids)).float()
    return torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]).item()
