"""``match_sdpa_to_torch_attention``: ``scaled_dot_product_attention`` as the canonical op."""

from __future__ import annotations

from torch import fx

from .attention_args import insert_attention_sdpa
from .graph_utils import arg as argument
from .graph_utils import aten, is_op


def match_sdpa_attention(gm: fx.GraphModule) -> int:
    matches = 0
    for node in list(gm.graph.nodes):
        if not is_op(node, aten.scaled_dot_product_attention):
            continue
        q, k, v = node.args[:3]
        mask = argument(node, 3, "attn_mask")
        is_causal = bool(argument(node, 5, "is_causal", False))
        scale = argument(node, 6, "scale")
        # enable_gqa (k/v with fewer heads) is what the canonical op does anyway
        insert_attention_sdpa(gm, node, q, k, v, mask, is_causal, scale)
        matches += 1
    return matches
