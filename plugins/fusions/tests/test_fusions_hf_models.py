"""Every matcher and fusion on graphs exported from transformers' Llama, Qwen2, Gemma and GPT-2.

Each architecture is exported on the meta device (as the ``graph`` preset does), the pattern
matchers run, the eager model's random weights are loaded, then the fusions run. After each
transform the match count is what the architecture implies, and the logits stay within 1e-4
(float32) of the eager model, which the unfused exported graph reproduces exactly.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from autodeploy_export.export_transform import ExportToGM  # noqa: E402
from autodeploy_fusions import transforms as T  # noqa: E402

from autodeploy import CachedSequenceInterface, SharedConfig, TransformStatus  # noqa: E402
from autodeploy.graph import retarget_device  # noqa: E402

pytestmark = pytest.mark.slow

LAYERS, VOCAB = 2, 128
SMALL = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=LAYERS, num_attention_heads=4)

CONFIGS = {
    "llama": lambda: transformers.LlamaConfig(**SMALL, num_key_value_heads=2, tie_word_embeddings=False),
    "qwen2": lambda: transformers.Qwen2Config(**SMALL, num_key_value_heads=2),  # q/k/v with biases
    "gemma": lambda: transformers.GemmaConfig(**SMALL, num_key_value_heads=2, head_dim=16),  # (1 + w) norms, GELU gate
    "gpt2": lambda: transformers.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=LAYERS, n_head=4),  # none of it
}

NORMS = 2 * LAYERS + 1  # two per layer and the final one
ADD_NORMS = 2 * LAYERS  # every norm but the first reads a residual sum
EXPECTED = {
    # key: {arch: matches}
    "match_rmsnorm_pattern": {"llama": NORMS, "qwen2": NORMS, "gemma": NORMS, "gpt2": 0},
    "eliminate_redundant_transposes": {"llama": 0, "qwen2": 0, "gemma": 0, "gpt2": 0},
    "match_swiglu_pattern": {"llama": LAYERS, "qwen2": LAYERS, "gemma": 0, "gpt2": 0},
    "fuse_swiglu": {"llama": LAYERS, "qwen2": LAYERS, "gemma": 0, "gpt2": 0},
    # q/k/v per layer; Gemma's gate/up too (its GELU MLP is no SwiGLU); GPT-2 has one c_attn already
    "fuse_gemms": {"llama": LAYERS, "qwen2": LAYERS, "gemma": 2 * LAYERS, "gpt2": 0},
    "fuse_add_rms_norm": {"llama": ADD_NORMS, "qwen2": ADD_NORMS, "gemma": ADD_NORMS, "gpt2": 0},
    "fuse_rmsnorm": {"llama": NORMS, "qwen2": NORMS, "gemma": NORMS, "gpt2": 0},
}
MATCHERS = [T.MatchRMSNormPattern, T.EliminateRedundantTransposes, T.MatchSwiGLUPattern]
FUSIONS = [T.FuseSwiGLU, T.FuseGemms, T.FuseAddRMSNorm, T.FuseRMSNorm]


class Pipeline:
    """One architecture taken through export, the matchers, loading and the fusions, with the
    logits and record after each transform."""

    def __init__(self, arch: str):
        config = CONFIGS[arch]()
        with torch.device("meta"):
            meta_model = transformers.AutoModelForCausalLM.from_config(config)
        torch.manual_seed(0)
        self.eager = transformers.AutoModelForCausalLM.from_config(config).eval()
        with torch.no_grad():  # norm weights away from their init, so a wrong weight would show
            for param in self.eager.parameters():
                if param.dim() == 1:
                    param.add_(torch.randn_like(param) * 0.1)
        self.input_ids = torch.randint(0, VOCAB, (3, 11), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            self.expected = self.eager(input_ids=self.input_ids, use_cache=False).logits
        mod = torch.nn.Module()
        mod.add_module("factory_model", meta_model)
        self.cm = CachedSequenceInterface(max_seq_len=32, max_batch_size=4)
        mod = ExportToGM.from_kwargs(stage="export", run_per_gm=False, requires_clean_graph=False)(
            mod, self.cm, None, SharedConfig()
        )
        self.records, self.diffs = {}, {}
        for transform in MATCHERS:
            mod = self._run(mod, transform, "pattern_matcher", check=False)
        self._load(mod.factory_model)
        self.diffs["loaded"] = self._diff(mod)
        for transform in FUSIONS:
            mod = self._run(mod, transform, "post_load_fusion", check=True)
        self.mod = mod

    def _run(self, mod, transform, stage: str, check: bool):
        instance = transform.from_kwargs(stage=stage)
        mod = instance(mod, self.cm, None, SharedConfig())
        key = transform.declared_key()
        self.records[key] = instance.last_record
        if check:
            self.diffs[key] = self._diff(mod)
        return mod

    def _load(self, gm) -> None:
        state = self.eager.state_dict()
        gm.load_state_dict(state, strict=False, assign=True)
        for name, buffer in self.eager.named_buffers():
            if name not in state:
                owner, _, leaf = name.rpartition(".")
                gm.get_submodule(owner).register_buffer(leaf, buffer.clone(), persistent=False)
        retarget_device(gm, "cpu")

    def _diff(self, mod) -> float:
        with torch.no_grad():
            got = mod.factory_model(input_ids=self.input_ids)
        assert got.shape == self.expected.shape
        return (got - self.expected).abs().max().item()


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def pipeline(request) -> Pipeline:
    return Pipeline(request.param)


def _arch(pipeline: Pipeline) -> str:
    return next(arch for arch, make in CONFIGS.items() if isinstance(pipeline.eager.config, type(make())))


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_match_counts(pipeline, key):
    record = pipeline.records[key]
    assert record.status is TransformStatus.APPLIED, record.error
    assert record.num_matches == EXPECTED[key][_arch(pipeline)]


def test_matchers_keep_the_logits(pipeline):
    # the matched graph, once loaded, still computes the eager model's logits
    assert pipeline.diffs["loaded"] < 1e-4


@pytest.mark.parametrize("key", [t.declared_key() for t in FUSIONS])
def test_each_fusion_keeps_the_logits(pipeline, key):
    assert pipeline.diffs[key] < 1e-4


def test_canonical_ops_replace_the_model_code(pipeline):
    targets = [str(node.target) for node in pipeline.mod.factory_model.graph.nodes if node.op == "call_function"]
    arch = _arch(pipeline)
    if arch == "gpt2":
        assert not any(t.startswith("autodeploy.") for t in targets)
        return
    assert "aten.rsqrt.default" not in targets  # every norm went into the op
    assert targets.count("autodeploy.fused_add_rms_norm.default") == ADD_NORMS
    assert targets.count("autodeploy.torch_rmsnorm.default") == NORMS - ADD_NORMS
    swiglu = arch != "gemma"
    assert targets.count("autodeploy.silu_and_mul.default") == (LAYERS if swiglu else 0)
    # linears per layer: q/k/v joined, o, gate/up joined, down; and the lm_head
    assert targets.count("aten.linear.default") == 4 * LAYERS + 1


def test_fusions_report_what_they_did(pipeline):
    record = pipeline.records["fuse_gemms"]
    if record.num_matches:
        details = record.details
        assert details["linears_joined"] >= 2 * record.num_matches
        # the joined weights hold the same bytes: the old ones were dropped
        assert details["bytes_after"] == details["bytes_before"]
    if pipeline.records["fuse_rmsnorm"].num_matches:
        assert pipeline.records["fuse_rmsnorm"].details == {"backend": "aten"}
