"""The ordered stages of a pipeline.

Every transform belongs to exactly one stage; the optimizer orders a pipeline by stage, stably
within a stage. The order is part of the contract with AutoDeploy: keep it.
"""

from __future__ import annotations

from enum import Enum
from functools import total_ordering


@total_ordering
class Stages(Enum):
    """Enumerated (ordered!) stages of the transformation pipeline.

    This is used to classify and pre-order transforms."""

    FACTORY = "factory"  # factory stage for building the model
    EXPORT = "export"  # export stage for exporting the model to a graph module
    POST_EXPORT = "post_export"  # low-level cleanups of the exported graph
    PATTERN_MATCHER = "pattern_matcher"  # high-level pattern matching to standardize graph representation
    SHARDING = "sharding"  # auto-sharding of the graph
    WEIGHT_LOAD = "weight_load"  # loading of the model weights
    POST_LOAD_FUSION = "post_load_fusion"  # post-loading fusion and perf optimizations of the graph
    CACHE_INIT = "cache_init"  # initialization of cached attention + (KV) cache initialization
    VISUALIZE = "visualize"  # visualization of the graph
    COMPILE = "compile"  # graph compilation stage using low-level compilers like TensorRT

    @property
    def rank(self) -> int:
        """Position in the pipeline, 0 for the first stage."""
        return _ORDER[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Stages):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def _missing_(cls, value: object) -> Stages:
        valid = ", ".join(stage.value for stage in cls)
        raise ValueError(f"{value!r} is not a valid stage; valid stages, in order: {valid}")

    def __str__(self) -> str:
        return self.value


_ORDER = {stage: index for index, stage in enumerate(Stages)}
