"""The ``gather_logits_before_lm_head`` transform (stage ``post_load_fusion``, ``run_per_gm: true``).

Generation reads only the last position's logits, yet the exported graph projects every position
onto the vocabulary. This transform puts ``autodeploy::gather_logits_before_lm_head`` before the
lm_head: the last position of each row, so the graph returns ``[batch, 1, vocab]`` and skips the
rest of that projection's work. Once ``insert_cached_attention`` makes the graph cached, the op
takes the step's ``last_token_index``: a packed step (prefill chunks and decodes of several
sequences in one row) returns ``[1, num_sequences, vocab]``, row i for sequence i. It changes
what the module returns, so the ``graph`` preset carries it disabled: comparing against the
eager model's full logits (``run --check``) keeps working unless a user opts in; a serving
runtime wants it on (a 512-token prefill otherwise projects 512 rows onto the vocabulary).

Torch-free at import (transforms are listed without torch); the rewrite lives in
`autodeploy_export.last_position_logits`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from autodeploy import BaseTransform, SharedConfig, TransformInfo

if TYPE_CHECKING:
    from torch import fx

    from autodeploy import CachedSequenceInterface, ModelFactory


class GatherLogitsBeforeLmHead(BaseTransform):
    """Compute the output logits for the last sequence position only (``hidden[:, -1:, :]``
    before the final projection; in a cached graph, each packed sequence's last new token); a
    graph without such a projection is left as it is."""

    transform_key = "gather_logits_before_lm_head"  # the key it is registered under, for use outside a pipeline

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        from .last_position_logits import slice_lm_head_input_to_last_position

        if slice_lm_head_input_to_last_position(gm) == 0:
            return gm, TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=True)
        return gm, TransformInfo(skipped=False, num_matches=1, is_clean=False, has_valid_shapes=False)
