"""``match_grouped_attention``: attention over repeated k/v heads -> grouped-query attention.

``torch_attention_sdpa(q, repeat_kv(k, n), repeat_kv(v, n))`` computes what
``torch_attention_sdpa(q, k, v)`` computes (the op groups query heads by k/v head itself), without
materialising the repetition; and a cache then holds the k/v heads only.
"""

from __future__ import annotations

import torch
from torch import fx

from .graph_utils import is_op


def match_grouped_attention(gm: fx.GraphModule) -> int:
    repeat = torch.ops.autodeploy.torch_repeat_kv
    matches = 0
    for node in gm.graph.nodes:
        if not is_op(node, torch.ops.autodeploy.torch_attention_sdpa):
            continue
        k, v = node.args[1], node.args[2]
        if not (is_op(k, repeat) and is_op(v, repeat) and k.args[1] == v.args[1]):
            continue
        node.update_arg(1, k.args[0])
        node.update_arg(2, v.args[0])
        matches += 1
    return matches
