"""``insert_cached_attention`` on an exported graph: every ``autodeploy::torch_attention``
becomes the backend's cached op, and the graph takes the step's metadata and caches as inputs.

The graph's calling convention changes from export's (pytree, one logits output, torch's
input-spec checks) to a plain ``forward(input_ids, position_ids, <metadata>, <caches>)`` in the
order of ``cm.graph_inputs``, returning the logits tensor; the limits are checked by
``cm.nest_sequences`` instead.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx

from autodeploy import AttentionBackend, AutodeployError, CachedSequenceInterface

from .cached_module import CacheSpec

INPUT_NAMES = ("input_ids", "position_ids")


class CachedAttentionError(AutodeployError):
    """An attention op that the backend cannot cache, or a graph left with uncached attention."""


def _value(node: Any) -> torch.Tensor:
    value = node.meta.get("val") if isinstance(node, fx.Node) else None
    if not isinstance(value, torch.Tensor):
        raise CachedAttentionError(
            f"graph node {getattr(node, 'name', node)!r} has no recorded shape (run shape propagation)"
        )
    return value


def _where(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack")
    return str(list(stack.values())[-1][0]) if stack else node.name


def attention_nodes(gm: fx.GraphModule) -> list[fx.Node]:
    import autodeploy.ops  # noqa: F401

    source = torch.ops.autodeploy.torch_attention
    return [
        n for n in gm.graph.nodes if n.op == "call_function" and getattr(n.target, "overloadpacket", None) is source
    ]


def _placeholder(gm: fx.GraphModule, name: str, value: Any = None) -> fx.Node:
    for node in gm.graph.find_nodes(op="placeholder"):
        if node.name == name or node.target == name:
            return node
    placeholders = list(gm.graph.find_nodes(op="placeholder"))
    anchor = placeholders[-1].next if placeholders else next(iter(gm.graph.nodes))
    with gm.graph.inserting_before(anchor):
        node = gm.graph.placeholder(name)
    if value is not None:
        node.meta["val"] = value
    return node


def insert_cached_attention(
    gm: fx.GraphModule, cm: CachedSequenceInterface, backend: AttentionBackend
) -> tuple[int, list[CacheSpec]]:
    """Rewrite `gm` in place; returns how many attention layers now use the caches, and the caches."""
    nodes = attention_nodes(gm)
    if not nodes:
        return 0, []
    from torch._subclasses.fake_tensor import FakeTensorMode

    fake = FakeTensorMode(allow_non_fake_inputs=True)
    with fake:
        ids_val = torch.empty((1, cm.token_budget), dtype=torch.long)
        meta_val = torch.empty((cm.max_batch_size,), dtype=torch.long)
    for name in INPUT_NAMES:
        _placeholder(gm, name, ids_val)
    for name in backend.metadata:
        cm.add_graph_input(name)
        _placeholder(gm, name, meta_val)
    op = backend.cached_attention_op()
    specs: list[CacheSpec] = []
    for layer, node in enumerate(nodes):
        q, k, v, attn_mask, _dropout, is_causal, scale, window, cap = (list(node.args) + [None] * 9)[:9]
        if attn_mask is not None or is_causal is False:
            raise CachedAttentionError(
                f"the attention at {_where(node)} is not plain causal attention (it has "
                f"{'an attention mask input' if attn_mask is not None else 'is_causal=False'}); a KV cache "
                "serves causal decoding only"
            )
        k_val = _value(k)
        caches = []
        for kind in backend.cache_kinds:
            spec = CacheSpec(
                backend.cache_name(kind, layer), kind, int(k_val.shape[2]), int(k_val.shape[3]), k_val.dtype
            )
            cm.add_cache(spec.name, _allocator(backend, spec))
            with fake:
                cache_val = torch.empty(
                    (cm.max_batch_size, cm.max_seq_len, spec.num_kv_heads, spec.head_dim), dtype=spec.dtype
                )
            caches.append(_placeholder(gm, spec.name, cache_val))
            specs.append(spec)
        metadata = [_placeholder(gm, name) for name in backend.metadata]
        with gm.graph.inserting_before(node):
            cached = gm.graph.call_function(op, (q, k, v, *metadata, *caches, scale, window, cap))
        cached.meta.update(
            {key: node.meta[key] for key in ("nn_module_stack", "stack_trace", "val") if key in node.meta}
        )
        node.replace_all_uses_with(cached)
        gm.graph.erase_node(node)
    _wire_logits_gather(gm, cm, meta_val)
    _plain_calling_convention(gm, cm)
    return len(nodes), specs


def _wire_logits_gather(gm: fx.GraphModule, cm: CachedSequenceInterface, meta_val: torch.Tensor) -> int:
    """Hand each ``gather_logits_before_lm_head`` (which took each row's last position) the step's
    ``last_token_index``: in a packed step, logits row i is then sequence i's last new token."""
    gathers = [
        n
        for n in gm.graph.nodes
        if n.op == "call_function" and str(n.target) == "autodeploy.gather_logits_before_lm_head.default"
    ]
    if not gathers:
        return 0
    cm.add_graph_input("last_token_index")
    index = _placeholder(gm, "last_token_index", meta_val)
    for node in gathers:
        node.args = (node.args[0], index)
    return len(gathers)


def _allocator(backend: AttentionBackend, spec: CacheSpec):
    def allocate(cm: CachedSequenceInterface) -> torch.Tensor:
        return spec.allocate(backend, cm.max_batch_size, cm.max_seq_len, cm.device)

    return allocate


def _plain_calling_convention(gm: fx.GraphModule, cm: CachedSequenceInterface) -> None:
    """Placeholders in ``cm.graph_inputs`` order, a plain forward, one logits tensor out."""
    graph = gm.graph
    by_name = {node.name: node for node in graph.find_nodes(op="placeholder")}
    unknown = [name for name in by_name if name not in cm.graph_inputs]
    if unknown:
        raise CachedAttentionError(f"the graph takes inputs the sequence interface does not provide: {unknown}")
    first = next(node for node in graph.nodes if node.op != "placeholder")
    for name in cm.graph_inputs:
        node = by_name.get(name) or _placeholder(gm, name)
        first.prepend(node)
    graph._codegen = fx.graph.CodeGen()
    output = next(iter(graph.find_nodes(op="output")))
    result = output.args[0]
    if isinstance(result, (list, tuple)) and len(result) == 1:
        output.args = (result[0],)
    gm._forward_pre_hooks.clear()  # export's input-spec checks know only the exported inputs
    graph.lint()
    gm.recompile()


def check_no_uncached_attention(gm: fx.GraphModule) -> None:
    """Fail on attention left uncached (``scaled_dot_product_attention``, the source ops)."""
    import autodeploy.ops  # noqa: F401

    uncached = (
        torch.ops.aten.scaled_dot_product_attention,
        torch.ops.autodeploy.torch_attention,
        torch.ops.autodeploy.torch_attention_sdpa,
    )
    for node in gm.graph.nodes:
        if node.op == "call_function" and getattr(node.target, "overloadpacket", None) in uncached:
            raise CachedAttentionError(
                f"the attention at {_where(node)} (graph node {node.name!r}) would run without a KV cache: it was not "
                "matched in the pattern_matcher stage (enable the match_* attention transforms), or disable "
                "insert_cached_attention to run the model uncached"
            )
