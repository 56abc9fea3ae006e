"""Configuration schemas shared by every transform.

`TransformConfig` mirrors AutoDeploy's field for field (names, types, defaults, descriptions):
the JSON schema in the reference documentation is part of our contract and a test holds us to it.
Extra keys are allowed at the schema level, as in AutoDeploy; the optimizer, not the schema,
decides whether an unknown key is a warning or an error, so that it can name the closest field.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .stages import Stages


class TransformConfig(BaseModel):
    """A simple configuration class that can be extended by a transform for configurability."""

    model_config = ConfigDict(
        # to provide an easy way to do config validation of child config classes with more fields
        extra="allow",
    )

    ### MANDATORY CONFIG ###########################################################################
    stage: Stages = Field(
        description="The stage of the transformation pipeline where this transform should run.",
    )

    ### OPTIONAL CONFIG ###########################################################################
    run_per_gm: bool = Field(
        description="Whether to run the transform per graph (sub)module or on whole module.",
        default=True,
    )
    enabled: bool = Field(default=True, description="Whether to enable this transform.")
    skip_on_error: bool = Field(
        default=False,
        description="Whether to skip the transform if an error occurs.",
    )

    run_graph_cleanup: bool = Field(
        default=True,
        description="Whether to run graph cleanup/canonicalization after this transform.",
    )
    run_shape_prop: bool = Field(
        default=False,
        description="Whether to run shape propagation after this transform.",
    )

    requires_clean_graph: bool = Field(
        default=True,
        description="Whether this transform requires the graph to be clean before it is applied.",
    )
    requires_shape_prop: bool = Field(
        default=False,
        description="Whether this transform requires shape propagation before it is applied.",
    )
    debug_visualize_dir: Optional[str] = Field(
        default=None,
        description="Debug visualization directory. None to disable visualization, "
        "or a path string to specify the output directory.",
    )

    expect_mem_change: bool = Field(
        default=False,
        description="Whether this transform is expected to cause changes in CUDA memory stats.",
    )

    def unknown_fields(self) -> list[str]:
        """Keys given in the config that no field of this config class declares.

        Kept (extra="allow") so AutoDeploy configs load, but usually a typo: the optimizer warns.
        """
        return sorted((self.model_extra or {}).keys())


class TransformInfo(BaseModel):
    """Information about the result of a transform, as recorded in the run's history."""

    model_config = ConfigDict(frozen=True)

    skipped: bool = Field(description="Whether the transform was skipped.")
    num_matches: int = Field(description="Number of matches found.")
    is_clean: bool = Field(
        default=False,
        description="Whether the graph is clean after the transform. This can be set by the transform to skip cleanup.",
    )
    has_valid_shapes: bool = Field(
        default=False,
        description="Whether meta tensor shapes are valid after the transform. This can be set by "
        "the transform to skip shape propagation.",
    )
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Facts the transform reports beyond the match count (e.g. the bytes of the caches it "
        "allocated); shown under the run report's table and kept in its JSON.",
    )

    @classmethod
    def from_last_info(cls, info: TransformInfo) -> TransformInfo:
        """Info for a skipped transform: nothing matched, graph state carried over unchanged."""
        return cls(
            skipped=True,
            num_matches=0,
            is_clean=info.is_clean,
            has_valid_shapes=info.has_valid_shapes,
        )

    def __or__(self, other: TransformInfo) -> TransformInfo:
        """Merge two infos optimistically: clean/valid if either is (e.g. after a cleanup ran)."""
        return TransformInfo(
            skipped=self.skipped and other.skipped,
            num_matches=self.num_matches + other.num_matches,
            is_clean=self.is_clean or other.is_clean,
            has_valid_shapes=self.has_valid_shapes or other.has_valid_shapes,
            details={**self.details, **other.details},
        )

    def __and__(self, other: TransformInfo) -> TransformInfo:
        """Merge two infos conservatively: clean/valid only if both are (e.g. across graphs)."""
        return TransformInfo(
            skipped=self.skipped and other.skipped,
            num_matches=self.num_matches + other.num_matches,
            is_clean=self.is_clean and other.is_clean,
            has_valid_shapes=self.has_valid_shapes and other.has_valid_shapes,
            details={**self.details, **other.details},
        )


class SharedConfig(BaseModel):
    """Global settings every transform of a run sees (rank, world size, and room for more)."""

    model_config = ConfigDict(extra="allow")

    local_rank: int = Field(default=0, ge=0, description="The rank of this process.")
    world_size: int = Field(default=1, ge=1, description="The number of processes.")

    def extra(self, name: str, default: Any = None) -> Any:
        """A setting a plugin put here under its own name (extra keys are allowed)."""
        return (self.model_extra or {}).get(name, default)
