"""What ``detect_sharding`` decides and ``sharding_transform_executor`` applies, as plain data.

A plan lives in the graph's ``meta`` between the two transforms, so each can be run, tested and
shown on its own (``show`` prints the detection's counts; a config may disable the executor to
inspect a plan without rewriting anything).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

PLAN_META = "autodeploy_sharding_plan"

SplitStyle = Literal["colwise", "rowwise", "gather"]


@dataclass(frozen=True)
class SplitLinear:
    """One linear layer to split: its node, weight (state-dict name), bias, and how."""

    node: str
    weight: str
    bias: Optional[str]
    style: SplitStyle

    @property
    def layer(self) -> str:
        """The layer's module name (``model.layers.0.self_attn.q_proj``)."""
        return self.weight.rsplit(".", 1)[0]


@dataclass(frozen=True)
class TPGroup:
    """Linear layers split by columns whose outputs meet in one layer split by rows.

    Between them every rank computes on its share of the heads (attention) or of the
    intermediate features (MLP); an all-reduce after the row-split layer sums the shares.
    ``fused``: the columns and the row are one op (the SwiGLU MLP op), with nothing between them.
    """

    columns: tuple[SplitLinear, ...]
    row: SplitLinear
    source: str
    fused: bool = False


@dataclass
class ShardingPlan:
    rank: int
    world_size: int
    groups: list[TPGroup] = field(default_factory=list)
    gathers: list[SplitLinear] = field(default_factory=list)
    replicated: list[str] = field(default_factory=list)  # linear layers left whole, by weight name

    @property
    def num_split_layers(self) -> int:
        return sum(len(group.columns) + 1 for group in self.groups) + len(self.gathers)

    def assigned_nodes(self) -> set[str]:
        names = {linear.node for linear in self.gathers}
        for group in self.groups:
            names.update(linear.node for linear in group.columns)
            names.add(group.row.node)
        return names
