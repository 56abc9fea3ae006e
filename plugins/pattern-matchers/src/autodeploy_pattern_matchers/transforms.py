"""The attention matchers as transforms (stage ``pattern_matcher``, one GraphModule at a time).

Torch-free at import; each rewrite lives in its own module, imported when the transform runs.
A transform that changed the graph reports it as not clean and without valid shapes, so the
base class canonicalises it (and shape propagation reruns where a later transform needs it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from autodeploy import BaseTransform, SharedConfig, TransformInfo

if TYPE_CHECKING:
    from torch import fx

    from autodeploy import CachedSequenceInterface, ModelFactory


def _info(num_matches: int) -> TransformInfo:
    changed = num_matches > 0
    return TransformInfo(skipped=False, num_matches=num_matches, is_clean=not changed, has_valid_shapes=not changed)


class _Matcher(BaseTransform):
    def _rewrite(self, gm: fx.GraphModule) -> int:
        raise NotImplementedError

    def _apply(
        self,
        gm: fx.GraphModule,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[fx.GraphModule, TransformInfo]:
        import autodeploy.ops  # noqa: F401 - registers the canonical ops

        from .graph_utils import remove_dead_code

        num_matches = self._rewrite(gm)
        if num_matches:
            remove_dead_code(gm)
        return gm, _info(num_matches)


class MatchRepeatKV(_Matcher):
    """Find grouped-query attention's head repetition (``repeat_kv``: unsqueeze, expand, reshape)
    and make it one ``autodeploy::torch_repeat_kv`` op, so attention over it can be grouped."""

    transform_key = "match_repeat_kv"  # the key it is registered under, for use outside a pipeline

    def _rewrite(self, gm: fx.GraphModule) -> int:
        from .repeat_kv import match_repeat_kv

        return match_repeat_kv(gm)


class MatchEagerAttention(_Matcher):
    """Find attention written out (``softmax(q @ k^T * scale + mask) @ v``, with casts and dropout
    in between) and make it one ``autodeploy::torch_attention_sdpa`` op. The model's causal mask
    is dropped (the op is causal; sliding windows come from the model's configuration)."""

    transform_key = "match_eager_attention"  # the key it is registered under, for use outside a pipeline

    def _rewrite(self, gm: fx.GraphModule) -> int:
        from .eager_attention import match_eager_attention

        return match_eager_attention(gm)


class MatchSDPAToTorchAttention(_Matcher):
    """Replace ``scaled_dot_product_attention`` with ``autodeploy::torch_attention_sdpa``; the
    model's causal mask is dropped (the op is causal; sliding windows come from the config)."""

    transform_key = "match_sdpa_to_torch_attention"  # the key it is registered under, for use outside a pipeline

    def _rewrite(self, gm: fx.GraphModule) -> int:
        from .sdpa_attention import match_sdpa_attention

        return match_sdpa_attention(gm)


class MatchGroupedAttention(_Matcher):
    """Attention over repeated k/v heads becomes grouped-query attention over the k/v heads
    themselves (the repetition disappears; a cache then holds only the k/v heads)."""

    transform_key = "match_grouped_attention"  # the key it is registered under, for use outside a pipeline

    def _rewrite(self, gm: fx.GraphModule) -> int:
        from .grouped_attention import match_grouped_attention

        return match_grouped_attention(gm)


class MatchAttentionLayout(_Matcher):
    """Put every attention op in AutoDeploy's bsnd layout (``autodeploy::torch_attention``,
    ``[batch, seq, heads, head_dim]``), what the cached backends take.

    It is the last attention matcher: an attention the matchers could not turn into a canonical
    op (it would run without a KV cache) fails here, naming the first such layer.
    """

    transform_key = "match_attention_layout"  # the key it is registered under, for use outside a pipeline

    def _rewrite(self, gm: fx.GraphModule) -> int:
        from .attention_layout import match_attention_layout
        from .graph_utils import remove_dead_code
        from .unmatched import check_all_attention_matched

        num_matches = match_attention_layout(gm)
        remove_dead_code(gm)
        check_all_attention_matched(gm)
        return num_matches
