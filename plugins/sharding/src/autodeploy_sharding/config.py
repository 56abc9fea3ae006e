"""Config schemas of the sharding transforms (AutoDeploy's field names and defaults). Torch-free."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from autodeploy import TransformConfig

ShardingSource = Literal["manual", "factory", "heuristic"]
ShardingDim = Literal["tp", "ep", "bmm"]
_DEFAULT_SOURCES: tuple[ShardingSource, ...] = ("manual", "factory", "heuristic")
_DEFAULT_DIMS: tuple[ShardingDim, ...] = ("tp", "ep", "bmm")


class ShardingTransformConfig(TransformConfig):
    """Configuration for sharding the model."""

    factory_config: dict[str, Any] = Field(
        default_factory=dict,
        description="A tensor-parallel plan given as the factory's (``{'tp_plan': {pattern: style}}``); by default "
        "the Hugging Face config's ``base_model_tp_plan`` is used.",
    )
    manual_config: dict[str, Any] = Field(
        default_factory=dict,
        description="A plan of your own: ``{'tp_plan': {module-name pattern: 'colwise' | 'rowwise' | "
        "'gather' | 'replicate'}}``; ``*`` in a pattern stands for one name component (a layer index).",
    )
    simple_shard_only: bool = Field(
        default=False,
        description="If True, force simple sharding (column split + all_gather) of every linear layer instead of "
        "column/row pairs joined by an all_reduce.",
    )
    support_partial_config: bool = Field(
        default=True,
        description="If True, layers a plan does not cover are sharded by the next source in ``sharding_source``; "
        "if False, the first source that yields a plan is the whole plan.",
    )
    sharding_source: list[ShardingSource] = Field(
        default_factory=lambda: list(_DEFAULT_SOURCES),
        description="Where the splits come from, in order of precedence.",
    )
    sharding_dims: list[ShardingDim] = Field(
        default_factory=lambda: list(_DEFAULT_DIMS),
        description="Which kinds of sharding to run; only 'tp' (tensor parallelism) is implemented, the others "
        "are accepted and have nothing to act on in dense models.",
    )
    shard_all_unprocessed: bool = Field(
        default=False,
        description="When True, apply simple shard (column split + all_gather) to 'leftover' linear nodes that "
        "are not part of any column/row pair (e.g. lm_head).",
    )


class ShardingExecutorConfig(TransformConfig):
    """Configuration of ``sharding_transform_executor``: it applies what ``detect_sharding`` found."""

    run_shape_prop: bool = Field(
        default=True,
        description="Whether to run shape propagation after the rewrite (later stages size caches from it).",
    )
