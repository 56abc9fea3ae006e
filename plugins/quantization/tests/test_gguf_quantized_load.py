"""A quantised GGUF checkpoint loads into quantised linears (``quantize_gguf_linear_from_config``).

The file is written here with the gguf package's own ``GGUFWriter`` and quantiser: a tiny Llama
whose layer 0 is Q8_0, layer 1 is Q4_1 (but its v projection Q4_0), embeddings Q8_0 and output F32,
with q/k rows permuted the way llama.cpp's converter permutes them. The reference is the Hugging Face
model holding the weights as transformers de-quantises them from that file (fp32).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")

from autodeploy import CachedSequenceInterface, InferenceOptimizer, PluginHost  # noqa: E402
from autodeploy.graph import logits_of  # noqa: E402

HIDDEN, INTERMEDIATE, HEADS, KV_HEADS, LAYERS, VOCAB = 64, 128, 4, 2, 2, 256
LINEARS = {  # GGUF name -> HF name
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
IDS = torch.tensor([[5, 17, 42, 99, 3, 200, 7, 64, 128, 11]])
TRANSFORM = "quantize_gguf_linear_from_config"


def linear_type(layer: int, short: str) -> str:
    if layer == 0:
        return "Q8_0"
    return "Q4_0" if short == "attn_v" else "Q4_1"


def _permute(weights, n_head: int):
    """llama.cpp's q/k row permutation (convert_hf_to_gguf.py), which loading undoes."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_gguf(model, path) -> None:
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize

    writer = GGUFWriter(str(path), "llama")
    writer.add_vocab_size(VOCAB)
    writer.add_context_length(128)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(INTERMEDIATE)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    state = {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}

    def add(name, array, kind: str) -> None:
        qtype = GGMLQuantizationType[kind]
        data = array if kind == "F32" else quantize(array, qtype)
        writer.add_tensor(name, data, raw_dtype=None if kind == "F32" else qtype)

    add("token_embd.weight", state["model.embed_tokens.weight"], "Q8_0")
    add("output.weight", state["lm_head.weight"], "F32")
    add("output_norm.weight", state["model.norm.weight"], "F32")
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}"
        add(f"blk.{layer}.attn_norm.weight", state[f"{prefix}.input_layernorm.weight"], "F32")
        add(f"blk.{layer}.ffn_norm.weight", state[f"{prefix}.post_attention_layernorm.weight"], "F32")
        for short, hf in LINEARS.items():
            weight = state[f"{prefix}.{hf}.weight"]
            if short == "attn_q":
                weight = _permute(weight, HEADS)
            elif short == "attn_k":
                weight = _permute(weight, KV_HEADS)
            add(f"blk.{layer}.{short}.weight", weight, linear_type(layer, short))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    from autodeploy.testing import tiny_hf_model

    model = tiny_hf_model(
        "llama",
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        pad_token_id=None,
    )
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama-mixed.gguf"
    write_gguf(model, path)
    return path, model


@pytest.fixture(scope="module")
def host():
    return PluginHost.from_environment()


def build(host, path, **transform):
    """The cached ``graph`` pipeline on the checkpoint at `path`, with the transform on when configured."""
    factory = host.factory_class("AutoModelForCausalLM")(model=str(path))
    config = {"mode": "graph", "transforms": {TRANSFORM: {"enabled": bool(transform), **transform}}}
    cm = CachedSequenceInterface(max_seq_len=64, max_batch_size=2)
    result = InferenceOptimizer(factory, config, host=host).run(cm)
    return result, cm


def logits(built):
    """The prefill logits of IDS [L, vocab] through the KV cache."""
    result, cm = built
    cm.nest_sequences([IDS[0].tolist()], input_pos=[0], cache_loc=[0])
    with torch.no_grad():
        out = result.module(**cm.named_args)
    return logits_of(out).float().reshape(IDS.shape[1], -1)


def record_of(built):
    return next(r for r in built[0].report.records if r.key == TRANSFORM)


@pytest.fixture(scope="module")
def eager_tensors(tiny_gguf, host):
    """transformers' own reading of the file: every tensor de-quantised at once."""
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    skeleton = host.factory_class("AutoModelForCausalLM")(model=str(tiny_gguf[0])).meta_skeleton()
    return load_gguf_checkpoint(str(tiny_gguf[0]), return_tensors=True, model_to_load=skeleton)["tensors"]


@pytest.fixture(scope="module")
def dequantized_logits(tiny_gguf, eager_tensors):
    """The reference: the Hugging Face model with the file's de-quantised weights, on IDS."""
    import copy

    model = copy.deepcopy(tiny_gguf[1])
    missing, unexpected = model.load_state_dict(eager_tensors, strict=False)
    assert not unexpected and not [name for name in missing if "rotary" not in name]
    with torch.no_grad():
        return model(IDS).logits[0].float()


def test_lazy_shard_reads_what_transformers_reads(tiny_gguf, host, eager_tensors):
    """Every tensor, named and de-quantised one at a time from the memory map, equals transformers'
    eager reading; the quantised blocks are offered for Q8_0 / Q4_0 / Q4_1 only."""
    path, model = tiny_gguf
    factory = host.factory_class("AutoModelForCausalLM")(model=str(path))
    eager = eager_tensors
    ((_, shard),) = list(factory.iter_checkpoint_shards())
    assert sorted(shard) == sorted(eager)
    for name, tensor in eager.items():
        torch.testing.assert_close(shard[name], tensor, rtol=0, atol=0, msg=name)
    # the q/k rows are un-permuted: the de-quantised weights are the model's, within Q8_0 rounding
    q_proj = "model.layers.0.self_attn.q_proj.weight"
    original = model.state_dict()[q_proj]
    assert (shard[q_proj] - original).abs().max() < original.abs().max() / 100
    types = factory.get_quant_config()["tensor_types"]
    assert types[q_proj] == "Q8_0" and types["model.layers.1.self_attn.v_proj.weight"] == "Q4_0"
    assert shard.quantized_blocks(q_proj).kind == "gguf:Q8_0"
    assert shard.quantized_blocks("lm_head.weight") is None  # F32


@pytest.fixture(scope="module")
def quantized(tiny_gguf, host):
    return build(host, tiny_gguf[0], exclude_modules=[])


def test_quantized_load_matches_the_dequantized_model(quantized, dequantized_logits):
    record = record_of(quantized)
    assert record.num_matches == LAYERS * len(LINEARS)
    assert record.details["gguf_types"] == {"Q4_0": 1, "Q4_1": 6, "Q8_0": 7}
    assert record.details["formats"] == {"int4": 7, "int8": 7}
    # the graph calls the ops (torch-simple may call their Python functions directly: named alike)
    targets = [
        getattr(n.target, "__name__", str(n.target)).split(".")[0]
        for gm in quantized[0].module.modules()
        if isinstance(gm, torch.fx.GraphModule)
        for n in gm.graph.nodes
        if n.op == "call_function"
    ]
    assert targets.count("int8_weight_linear") == 7
    assert targets.count("int4_weight_linear") == 7
    # no float copy of a quantised weight is left in the module
    names = [name for name, _ in quantized[0].module.named_parameters()]
    assert not any(name.endswith("layers.0.self_attn.q_proj.weight") for name in names)
    assert any(name.endswith("layers.0.input_layernorm.weight") for name in names)
    expected, got = dequantized_logits, logits(quantized)
    # Q4_0 / Q4_1 map exactly; Q8_0's block scales become per-channel ones (int8 rounding, ~1% of a
    # weight); the CPU kernels run in bf16. Measured: max error 0.65% of the largest logit (random
    # tiny model: its near-tied argmaxes are not compared)
    scale = expected.abs().max().item()
    assert (got - expected).abs().max().item() < 0.02 * scale


@pytest.mark.parametrize("kind", ["Q4_0", "Q4_1", "Q8_0"])
def test_blocks_feed_the_quantized_ops(kind):
    """Q4_0 / Q4_1 blocks are the int4 op's groups exactly (scale, zero and nibbles give gguf's own
    de-quantised values); Q8_0's block scales become one per channel (int8 rounding of each row's
    range). The ops' products match the de-quantised weights' within the kernels' precision
    (on CPU they run in bfloat16)."""
    import torch.nn.functional as F
    from autodeploy_quantization.gguf_blocks import BLOCK, q4_to_groups, q8_0_to_int8_per_channel
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    from autodeploy.ops import int4_scales_dtype, pack_int4

    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(96, 128, generator=generator) * torch.rand(96, 1, generator=generator)
    x = torch.randn(3, 128, generator=generator)
    qtype = GGMLQuantizationType[kind]
    blocks = quantize(weight.numpy(), qtype)
    reference = torch.from_numpy(dequantize(blocks, qtype))
    expected = F.linear(x, reference)
    data = torch.from_numpy(blocks)
    if kind == "Q8_0":
        q, scale = q8_0_to_int8_per_channel(data, (96, 128))
        # per channel, each weight is rounded to its row's scale: |error| <= scale / 2
        weight_error = (q.float() * scale[:, None] - reference).abs()
        assert (weight_error <= scale[:, None] / 2 + 1e-7).all() and weight_error.max() > 0
        got = torch.ops.autodeploy.int8_weight_linear(x, q, scale)
    else:
        q, scale, zero = q4_to_groups(data, kind, (96, 128))
        exact = ((q.reshape(96, -1, BLOCK).float() - 8) * scale[..., None] + zero[..., None]).reshape(96, 128)
        torch.testing.assert_close(exact, reference, rtol=0, atol=1e-6)
        packed, scales_and_zeros = pack_int4(q, scale, zero, int4_scales_dtype(torch.float32))
        got = torch.ops.autodeploy.int4_weight_linear(x, packed, scales_and_zeros, 32)
    assert got.dtype == torch.float32
    assert (got - expected).abs().max().item() < 0.02 * expected.abs().max().item()


def test_only_gguf_checkpoints_say_they_are_quantized(tmp_path, host, tiny_gguf):
    """``get_quant_config`` (which the transform asks) is empty for a safetensors checkpoint."""
    tiny_gguf[1].save_pretrained(tmp_path)
    assert host.factory_class("AutoModelForCausalLM")(model=str(tmp_path)).get_quant_config() == {}
