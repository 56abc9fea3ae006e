"""``match_repeat_kv``: transformers' ``repeat_kv`` (grouped-query attention) as one op.

``x[:, :, None].expand(b, n_kv, n_rep, s, d).reshape(b, n_kv * n_rep, s, d)`` is exported as
unsqueeze -> expand -> reshape (or view); it becomes ``autodeploy::torch_repeat_kv(x, n_rep)``.
"""

from __future__ import annotations

import torch
from torch import fx

from .graph_utils import aten, copy_meta, is_op


def match_repeat_kv(gm: fx.GraphModule) -> int:
    matches = 0
    for node in list(gm.graph.nodes):
        if not is_op(node, aten.reshape, aten.view, aten._unsafe_view):
            continue
        expand = node.args[0]
        if not is_op(expand, aten.expand) or len(expand.users) != 1:
            continue
        unsqueeze = expand.args[0]
        sizes = expand.args[1]
        if not is_op(unsqueeze, aten.unsqueeze) or unsqueeze.args[1] != 2 or len(sizes) != 5:
            continue
        n_rep = sizes[2]
        if not isinstance(n_rep, int) or n_rep < 1 or len(node.args[1]) != 4:
            continue
        with gm.graph.inserting_before(node):
            repeated = gm.graph.call_function(torch.ops.autodeploy.torch_repeat_kv.default, (unsqueeze.args[0], n_rep))
        copy_meta(repeated, node)
        node.replace_all_uses_with(repeated)
        matches += 1
    return matches
