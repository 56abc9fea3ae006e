"""The post-export cleanup transforms (stage ``post_export``, ``run_per_gm: true``).

Each removes one kind of node that export leaves behind and that later pattern matchers would
otherwise have to see through. Each counts what it removed; a graph it changed is marked as
not clean and without valid shapes, so the base class canonicalises it afterwards.

Torch-free at import (transforms are listed without torch); the rewrites live in
`autodeploy_export.graph_cleanups`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from autodeploy import BaseTransform, SharedConfig, TransformInfo

if TYPE_CHECKING:
    from torch import fx

    from autodeploy import CachedSequenceInterface, ModelFactory


def _info(num_matches: int) -> TransformInfo:
    return TransformInfo(
        skipped=False, num_matches=num_matches, is_clean=num_matches == 0, has_valid_shapes=num_matches == 0
    )


class CleanupNoopSlice(BaseTransform):
    """Remove slices that take a whole dimension (``x[:, :]``): their uses read the input directly."""

    transform_key = "cleanup_noop_slice"  # the key it is registered under, for use outside a pipeline

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .graph_cleanups.noop_slice import remove_noop_slices

        return gm, _info(remove_noop_slices(gm))


class CleanupNoopAdd(BaseTransform):
    """Remove additions of zero (``x + 0``, ``x + zeros``) that change neither shape nor dtype."""

    transform_key = "cleanup_noop_add"  # the key it is registered under, for use outside a pipeline

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .graph_cleanups.noop_add import remove_noop_adds

        return gm, _info(remove_noop_adds(gm))


class CleanupUnusedInputs(BaseTransform):
    """Remove graph inputs nothing reads; the GraphModule then no longer takes them (see
    `autodeploy_export.graph_cleanups.unused_inputs` for how its call signature changes)."""

    transform_key = "cleanup_unused_inputs"  # the key it is registered under, for use outside a pipeline

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .graph_cleanups.unused_inputs import remove_unused_inputs

        return gm, _info(remove_unused_inputs(gm))


class CleanupInputConstraints(BaseTransform):
    """Widen the upper bounds of the sequence input's dynamic dims (AutoDeploy's heuristic: the
    product of their bounds times 1000), so that the exported graph's input check never refuses
    a step longer than the shapes export saw. See
    `autodeploy_export.graph_cleanups.input_constraints`. Changes no node: the graph stays clean."""

    transform_key = "cleanup_input_constraints"  # the key it is registered under, for use outside a pipeline

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .graph_cleanups.input_constraints import widen_input_constraints

        widened = widen_input_constraints(gm)
        return gm, TransformInfo(skipped=widened == 0, num_matches=widened, is_clean=True, has_valid_shapes=True)
