"""export_to_gm on real transformers models built on the meta device, then loaded and compared.

Two architectures with different traps: Llama (rotary `inv_freq` non-persistent buffers, untied
head) and GPT-2 (learned positions, Conv1D layers, dropout 0.1 that must be captured in eval
form, lm_head tied to the token embedding).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from autodeploy_export.capture import EXPORT_META_KEY  # noqa: E402
from autodeploy_export.cleanup_transforms import CleanupNoopAdd, CleanupNoopSlice, CleanupUnusedInputs  # noqa: E402
from autodeploy_export.export_transform import ExportToGM  # noqa: E402
from autodeploy_export.tied_weights import TIED_WEIGHTS_META_KEY  # noqa: E402

from autodeploy import CachedSequenceInterface, SharedConfig, TransformStatus, get_history  # noqa: E402
from autodeploy.graph import retarget_device  # noqa: E402
from autodeploy.testing import tiny_hf_config  # noqa: E402

pytestmark = pytest.mark.slow

MAX_BATCH, MAX_SEQ = 4, 64


def _llama_config():
    return tiny_hf_config("llama", max_position_embeddings=MAX_SEQ, tie_word_embeddings=False, pad_token_id=None)


def _gpt2_config():
    return transformers.GPT2Config(
        vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_positions=MAX_SEQ, bos_token_id=0, eos_token_id=0
    )


CONFIGS = {"llama": _llama_config, "gpt2": _gpt2_config}


class Exported:
    """A model exported by the transform on meta, and an eager twin with real random weights."""

    def __init__(self, arch: str):
        config = CONFIGS[arch]()
        with torch.device("meta"):
            meta_model = transformers.AutoModelForCausalLM.from_config(config)
        self.meta_model = meta_model
        self.meta_state_keys = list(meta_model.state_dict().keys())
        self.meta_buffer_names = [name for name, _ in meta_model.named_buffers()]
        pipeline = torch.nn.Module()
        pipeline.add_module("factory_model", meta_model)
        self.cm = CachedSequenceInterface(max_seq_len=MAX_SEQ, max_batch_size=MAX_BATCH)
        transform = ExportToGM.from_kwargs(
            stage="export", run_per_gm=False, requires_clean_graph=False, strict=False, clone_state_dict=False
        )
        self.pipeline = transform(pipeline, self.cm, None, SharedConfig())
        torch.manual_seed(0)
        self.eager = transformers.AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def exported(request) -> Exported:
    return Exported(request.param)


def _load_eager_weights(gm, eager, drop=()) -> None:
    """What the weight loader does: assign the checkpoint by name, recompute the rotary
    buffers, retarget the devices baked into the graph."""
    state = {name: tensor for name, tensor in eager.state_dict().items() if name not in drop}
    result = gm.load_state_dict(state, strict=False, assign=True)
    assert not result.unexpected_keys
    for name, buffer in eager.named_buffers():
        if name not in state:  # non-persistent: not in checkpoints, recomputed on the device
            owner_name, _, leaf = name.rpartition(".")
            gm.get_submodule(owner_name).register_buffer(leaf, buffer.clone(), persistent=False)
    retarget_device(gm, "cpu")


def _max_diff(gm, eager, batch: int, seq: int) -> float:
    input_ids = torch.randint(0, 128, (batch, seq), generator=torch.Generator().manual_seed(batch * 100 + seq))
    positions = torch.arange(seq).expand(batch, seq)
    with torch.no_grad():
        # a deep copy loses the call hooks (default positions among them): pass them explicitly
        got = gm(input_ids=input_ids, position_ids=positions)
        expected = eager(input_ids=input_ids, use_cache=False).logits
    assert got.shape == expected.shape == (batch, seq, 128)
    return (got - expected).abs().max().item()


def test_export_replaces_factory_model_with_graph_module(exported):
    gm = exported.pipeline.factory_model
    assert isinstance(gm, torch.fx.GraphModule)
    placeholders = [node.name for node in gm.graph.find_nodes(op="placeholder")]
    assert placeholders == ["input_ids", "position_ids"]  # positions come from the runtime
    assert exported.cm.example_input_names == ("input_ids", "position_ids")
    record = get_history(exported.pipeline)[-1]
    assert record.key == "export_to_gm"
    assert record.status is TransformStatus.APPLIED
    assert record.info.num_matches == 1
    dims = gm.meta[EXPORT_META_KEY]["dynamic_shapes"]["input_ids"]
    # a packed step carries up to the token budget in one row, so the sequence dim reaches it
    token_budget = exported.cm.token_budget
    assert token_budget == MAX_BATCH * MAX_SEQ
    assert dims == {0: ("batch_size", 1, MAX_BATCH), 1: ("seq_len", 1, token_budget)}


def test_graph_module_keeps_the_models_state_dict_and_buffer_names(exported):
    gm = exported.pipeline.factory_model
    assert list(gm.state_dict().keys()) == exported.meta_state_keys
    assert sorted(name for name, _ in gm.named_buffers()) == sorted(exported.meta_buffer_names)
    # non-persistent buffers (rotary inv_freq) stay out of the state dict, as in the model
    for name in exported.meta_buffer_names:
        assert (name in gm.state_dict()) == (name in exported.meta_state_keys)
    assert all(p.device.type == "meta" for p in gm.parameters())


def test_tied_weights_are_recorded_and_kept_tied(exported):
    gm = exported.pipeline.factory_model
    if exported.eager.config.tie_word_embeddings:
        assert gm.meta[TIED_WEIGHTS_META_KEY] == [["lm_head.weight", "transformer.wte.weight"]]
        assert gm.get_parameter("lm_head.weight") is gm.get_parameter("transformer.wte.weight")
        # each use reads the weight through its own module's name: the embedding the token
        # table, the head its own weight, so graph cleanups keep both names
        readers = {
            node.target: {str(user.target) for user in node.users}
            for node in gm.graph.find_nodes(op="get_attr")
            if node.target in ("lm_head.weight", "transformer.wte.weight")
        }
        assert readers == {
            "transformer.wte.weight": {"aten.embedding.default"},
            "lm_head.weight": {"aten.linear.default"},
        }
    else:
        assert TIED_WEIGHTS_META_KEY not in gm.meta


def test_loaded_graph_matches_eager_logits_at_dynamic_shapes(exported):
    import copy

    gm = copy.deepcopy(exported.pipeline.factory_model)
    # a tied checkpoint as save_pretrained writes it: without lm_head.weight
    drop = ("lm_head.weight",) if exported.eager.config.tie_word_embeddings else ()
    _load_eager_weights(gm, exported.eager, drop=drop)
    assert all(t.device.type == "cpu" for t in (*gm.parameters(), *gm.buffers()))
    for batch in (1, 3):
        for seq in (5, 17):
            assert _max_diff(gm, exported.eager, batch, seq) < 1e-5, (batch, seq)


def test_positions_default_to_whole_sequences_and_shift_the_result(exported):
    gm = copy_with_weights(exported)
    ids = torch.randint(0, 128, (2, 6), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        from_start = gm.factory_model(input_ids=ids)
        explicit = gm.factory_model(input_ids=ids, position_ids=torch.arange(6).expand(2, 6))
        # a gap in the positions (rotary attention is blind to a uniform shift)
        gapped = torch.tensor([0, 1, 2, 9, 10, 11]).expand(2, 6)
        shifted = gm.factory_model(input_ids=ids, position_ids=gapped)
    torch.testing.assert_close(from_start, explicit, rtol=0, atol=0)
    assert (from_start - shifted).abs().max() > 1e-4  # the positions reach the model


def copy_with_weights(exported):
    """The pipeline, deep-copied (hooks re-installed as the export installs them) and loaded."""
    import copy

    from autodeploy_export.call_convention import accept_positional_or_keyword_inputs

    pipeline = copy.deepcopy(exported.pipeline)
    accept_positional_or_keyword_inputs(pipeline.factory_model)
    _load_eager_weights(pipeline.factory_model, exported.eager)
    return pipeline


def test_calls_outside_the_dynamic_limits_are_refused(exported):
    # torch's input check runs before the graph: no weights needed to see it refuse
    too_big = torch.zeros((MAX_BATCH + 1, 4), dtype=torch.long)
    with pytest.raises(RuntimeError, match=r"input_ids'\]?\.shape\[0\] to be <= 4"):
        exported.pipeline.factory_model(input_ids=too_big)


def test_pipeline_module_can_switch_to_eval_but_not_to_training(exported):
    from autodeploy_export.errors import InferenceOnlyGraphError

    exported.pipeline.eval()
    assert not exported.pipeline.factory_model.training
    with pytest.raises(InferenceOnlyGraphError, match="inference"):
        exported.pipeline.train()


def test_post_export_cleanups_keep_the_logits(exported):
    import copy

    pipeline = copy.deepcopy(exported.pipeline)
    counts = {}
    for transform_class in (CleanupNoopSlice, CleanupNoopAdd, CleanupUnusedInputs):
        pipeline = transform_class.from_kwargs(stage="post_export")(pipeline, exported.cm, None, SharedConfig())
        counts[transform_class.transform_key] = get_history(pipeline)[-1].info.num_matches
    # the causal LMs add 0 to their position arange (past length 0 without a cache)
    assert counts["cleanup_noop_add"] >= 1
    assert counts["cleanup_unused_inputs"] == 0  # input_ids and position_ids are used
    gm = pipeline.factory_model
    # the cleanups canonicalised the graph (dead code, unused submodules): names survive
    assert list(gm.state_dict().keys()) == exported.meta_state_keys
    _load_eager_weights(gm, exported.eager)
    for batch, seq in ((1, 5), (3, 17)):
        assert _max_diff(gm, exported.eager, batch, seq) < 1e-5
