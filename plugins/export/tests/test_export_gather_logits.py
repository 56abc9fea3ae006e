"""gather_logits_before_lm_head: the graph computes the last position's logits only.

Through the real pipeline (installed plugins, the Hugging Face factory on a saved tiny Llama),
the opted-in module must return ``[batch, 1, vocab]`` equal to the eager model's last row, greedy
decoding over it must pick Hugging Face ``generate``'s tokens, and the ``graph`` preset without
the opt-in must still return every position. Small exported modules check the path the rewrite
follows (a cast and a view after the projection) and the graphs it must leave alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from autodeploy_export.gather_logits_transform import GatherLogitsBeforeLmHead  # noqa: E402

from autodeploy import (  # noqa: E402
    CachedSequenceInterface,
    InferenceOptimizer,
    PluginHost,
    SharedConfig,
    TransformStatus,
    get_history,
)
from autodeploy.graph import greedy_generate  # noqa: E402
from autodeploy.testing import write_tiny_hf_checkpoint  # noqa: E402

KEY = "gather_logits_before_lm_head"
MAX_SEQ = 32
VOCAB = 96
SHAPES = [(2, 5), (3, 11)]  # (batch, seq)


def _save_tiny_llama(folder: Path) -> Path:
    return write_tiny_hf_checkpoint(
        folder,
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        max_position_embeddings=MAX_SEQ,
        pad_token_id=None,
        tie_word_embeddings=False,
    )


def _build(checkpoint: Path, config: dict):
    host = PluginHost.from_environment()
    factory = host.factory_class("AutoModelForCausalLM")(model=str(checkpoint))
    cm = CachedSequenceInterface(max_seq_len=MAX_SEQ, max_batch_size=4)
    return InferenceOptimizer(factory, config, host=host).run(cm)


class Built:
    def __init__(self, folder: Path):
        checkpoint = _save_tiny_llama(folder)
        self.eager = transformers.AutoModelForCausalLM.from_pretrained(checkpoint).eval()
        self.gathered = _build(checkpoint, {"mode": "graph", "transforms": {KEY: {"enabled": True}}})
        self.default = _build(checkpoint, {"mode": "graph"})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("gather_logits_llama"))


def _ids(batch: int, seq: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, seq), generator=torch.Generator().manual_seed(seed))


def _record(result, key: str = KEY):
    return next(record for record in result.report.records if record.key == key)


@pytest.mark.slow
def test_opt_in_counts_one_match_after_weight_loading(built: Built) -> None:
    record = _record(built.gathered)
    assert record.status is TransformStatus.APPLIED
    assert record.stage.value == "post_load_fusion"
    assert record.info.num_matches == 1
    keys = [record.key for record in built.gathered.report.records]
    assert keys.index("load_weights") < keys.index(KEY) < keys.index("compile_model")


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "seq"), SHAPES)
def test_opted_in_module_returns_the_last_positions_logits(built: Built, batch: int, seq: int) -> None:
    ids = _ids(batch, seq)
    with torch.no_grad():
        logits = built.gathered.module(input_ids=ids)
        expected = built.eager(input_ids=ids, use_cache=False).logits[:, -1:, :]
    assert tuple(logits.shape) == (batch, 1, VOCAB)
    assert float((logits - expected).abs().max()) < 1e-5


@pytest.mark.slow
def test_greedy_generation_over_it_matches_hugging_face_generate(built: Built) -> None:
    prompt = _ids(2, 6, seed=3)
    new_tokens = 8
    expected = built.eager.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        do_sample=False,
        use_cache=False,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        eos_token_id=None,
        pad_token_id=0,
    )
    generated = greedy_generate(built.gathered.module, prompt, new_tokens)
    assert generated.shape == (2, 6 + new_tokens)
    assert torch.equal(generated, expected)


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "seq"), SHAPES)
def test_graph_preset_leaves_it_disabled_and_returns_every_position(built: Built, batch: int, seq: int) -> None:
    assert _record(built.default).status is TransformStatus.DISABLED
    ids = _ids(batch, seq)
    with torch.no_grad():
        logits = built.default.module(input_ids=ids)
        expected = built.eager(input_ids=ids, use_cache=False).logits
    assert tuple(logits.shape) == (batch, seq, VOCAB)
    assert float((logits - expected).abs().max()) < 1e-5


# --- the rewrite on small exported modules -------------------------------------------------


class CastAndViewHead(torch.nn.Module):
    """A projection followed by a dtype cast and a same-shape reshape, as some heads export."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.norm = torch.nn.LayerNorm(8)
        self.lm_head = torch.nn.Linear(8, 12, bias=True)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.lm_head(self.norm(hidden)).to(torch.float64)
        return logits.reshape(hidden.shape[0], hidden.shape[1], -1) * 0.5


class TwoOutputs(CastAndViewHead):
    def forward(self, hidden: torch.Tensor):  # type: ignore[override]
        logits = self.lm_head(hidden)
        return logits, logits.sum()


class SharedProjection(CastAndViewHead):
    """The projection's output is read twice: slicing its input would change the other reader."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.lm_head(hidden)
        return logits.to(torch.float64) + logits.mean()


class NoProjection(torch.nn.Module):
    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden.relu() * 2.0


def _exported(module: torch.nn.Module) -> torch.nn.Module:
    batch, seq = torch.export.Dim("batch", min=1, max=8), torch.export.Dim("seq", min=1, max=16)
    example = torch.randn(2, 5, 8)
    program = torch.export.export(module, (example,), dynamic_shapes=({0: batch, 1: seq},), strict=False)
    container = torch.nn.Module()
    container.add_module("factory_model", program.module())
    return container


def _run_transform(container: torch.nn.Module) -> torch.nn.Module:
    transform = GatherLogitsBeforeLmHead.from_kwargs(stage="post_load_fusion", run_per_gm=True)
    return transform(container, CachedSequenceInterface(max_seq_len=16), None, SharedConfig())


@pytest.mark.parametrize(("batch", "seq"), SHAPES)
def test_rewrite_follows_a_cast_and_a_view_after_the_projection(batch: int, seq: int) -> None:
    module = CastAndViewHead().eval()
    container = _run_transform(_exported(module))
    assert get_history(container)[-1].info.num_matches == 1
    hidden = torch.randn(batch, seq, 8)
    with torch.no_grad():
        out = container.factory_model(hidden)
        expected = module(hidden)[:, -1:, :]
    assert out.shape == (batch, 1, 12) and out.dtype == torch.float64
    # the projection is an fp32 matmul over a different shape (one row instead of all), so its
    # kernel may round differently: fp32 tolerances, though the cast makes the result float64
    torch.testing.assert_close(out, expected, rtol=1.3e-6, atol=1e-5)


def test_running_it_twice_rewrites_once() -> None:
    container = _run_transform(_run_transform(_exported(CastAndViewHead().eval())))
    first, second = get_history(container)[-2:]
    assert (first.info.num_matches, second.info.num_matches) == (1, 0)
    assert second.status is TransformStatus.SKIPPED
    gathers = [n for n in container.factory_model.graph.nodes if "gather_logits_before_lm_head" in str(n.target)]
    assert len(gathers) == 1


@pytest.mark.parametrize("module_class", [TwoOutputs, SharedProjection, NoProjection])
def test_graphs_without_a_lone_final_projection_are_left_alone(module_class: type) -> None:
    module = module_class().eval()
    container = _run_transform(_exported(module))
    record = get_history(container)[-1]
    assert (record.status, record.info.num_matches) == (TransformStatus.SKIPPED, 0)
    assert not [n for n in container.factory_model.graph.nodes if "gather_logits_before_lm_head" in str(n.target)]
    hidden = torch.randn(3, 7, 8)
    with torch.no_grad():
        torch.testing.assert_close(container.factory_model(hidden), module(hidden))
