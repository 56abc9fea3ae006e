"""How a matched attention becomes the canonical op's arguments: the mask decision in one place."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import fx

from .graph_utils import copy_meta, model_built_mask, sliding_window_for


def insert_attention_sdpa(
    gm: fx.GraphModule,
    replaced: fx.Node,
    q: fx.Node,
    k: fx.Node,
    v: fx.Node,
    mask: Any,
    is_causal: bool,
    scale: Optional[float],
    logit_cap: Optional[float] = None,
) -> fx.Node:
    """Put ``torch_attention_sdpa`` where `replaced` is and hand it `replaced`'s users.

    A mask the model built from positions alone is its causal (or sliding-window) mask: it is
    dropped, the op is causal, and the layer's sliding window comes from the model's config.
    Any other mask (a graph input of its own) is kept as it is.
    """
    if model_built_mask(mask) and (mask is not None or is_causal):
        mask, is_causal, window = None, True, sliding_window_for(gm, replaced)
    else:
        window = None
    with gm.graph.inserting_before(replaced):
        node = gm.graph.call_function(
            torch.ops.autodeploy.torch_attention_sdpa.default,
            (q, k, v, mask, 0.0, is_causal, scale, window, logit_cap),
        )
    copy_meta(node, replaced)
    replaced.replace_all_uses_with(node)
    return node
