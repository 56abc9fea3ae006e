"""Canonical ops of autodeploy: one ``torch.library`` namespace, ``autodeploy``.

Matchers rewrite model code into these ops; attention backends replace the source ops with
their cached forms. Each op has a fake (meta) implementation, so export and shape propagation
see through it. Importing this package imports torch and registers the ops (once per process):
``import autodeploy`` never imports it; transforms import it when they run.

- ``torch.ops.autodeploy.torch_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True,
  scale=None, sliding_window=None, logit_cap=None)``: attention in ``[batch, seq, heads, head_dim]``
  layout (bsnd), grouped-query (k/v may have fewer heads);
- ``torch.ops.autodeploy.torch_attention_sdpa(...)``: the same in ``[batch, heads, seq, head_dim]``
  layout (bnsd), what matchers produce first, before ``match_attention_layout``;
- ``torch.ops.autodeploy.torch_repeat_kv(x, n_rep)``: grouped-query attention's head repetition;
- ``torch.ops.autodeploy.torch_cached_attention(...)``: the ``torch`` backend's cached attention
  over the packed step layout (prefill and decode mixed), see `autodeploy.ops.cached_attention`.

- `gather`: ``gather_logits_before_lm_head(hidden, token_index=None)``: the rows whose logits are
  needed (each row's last position, or a packed step's ``last_token_index``);
- `norms`: ``torch_rmsnorm(x, weight, eps, backend)`` and ``fused_add_rms_norm`` (the residual add
  joined with the norm);
- `mlp`: ``torch_swiglu_mlp(x, gate_w, up_w, down_w, ...)`` and ``silu_and_mul(gate_up)``;
- `quant`: weight-only ``int8_weight_linear`` (per-channel) and ``int4_weight_linear`` (group-wise,
  int4pack layout), with the helpers that quantize and pack weights for them.

This is a public module of the plugin API (``from autodeploy.ops import ...``).
"""

from __future__ import annotations

from . import attention, cached_attention, gather, mlp, norms, quant  # noqa: F401 - registers the ops
from .gather import gather_logits_op
from .norms import RMSNORM_BACKENDS
from .quant import (
    INT4_BACKENDS,
    INT8_BACKENDS,
    dequantize_int4,
    dequantize_int8,
    int4_scales_dtype,
    kernel_dtype,
    pack_int4,
    quantize_int4_groupwise,
    quantize_int8_per_channel,
)

NAMESPACE = "autodeploy"

__all__ = [
    "INT4_BACKENDS",
    "INT8_BACKENDS",
    "NAMESPACE",
    "RMSNORM_BACKENDS",
    "dequantize_int4",
    "dequantize_int8",
    "gather_logits_op",
    "int4_scales_dtype",
    "kernel_dtype",
    "pack_int4",
    "quantize_int4_groupwise",
    "quantize_int8_per_channel",
]
