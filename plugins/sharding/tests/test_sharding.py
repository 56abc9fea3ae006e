"""Tensor parallelism on CPU: 2 ranks over gloo against 1 rank, on tiny Llama, Qwen2 and Gemma.

The 2-rank runs are real processes started by torch's launcher (what torchrun runs), once for
all cases (`sharded`); the 1-rank reference runs in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from autodeploy import ConfigError, SharedConfig
from autodeploy.testing import write_tiny_hf_checkpoint

pytest.importorskip("autodeploy_export", reason="needs the export plugin")
pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
SOURCES = ("heuristic", "factory", "manual")
# each config class's own token ids, where the shared tiny configs set others
ARCHS: dict[str, dict[str, Any]] = {
    "llama": dict(pad_token_id=None),
    "qwen2": dict(bos_token_id=None, eos_token_id=None, pad_token_id=None),
    "gemma": dict(bos_token_id=2, eos_token_id=1, pad_token_id=0),
}
# heads 4, key/value heads 2: grouped-query attention, split 2 ways
SIZES = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=1,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=128,
    tie_word_embeddings=False,
)
SPLIT_PER_LAYER = 7
TIMEOUT_S = 600


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTODEPLOY_", "RANK", "WORLD_SIZE", "LOCAL_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tp-models")
    folders = {}
    for arch, token_ids in ARCHS.items():
        folders[arch] = str(write_tiny_hf_checkpoint(root / arch, arch, **token_ids, **SIZES))
    return folders


def _cases(checkpoints: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"arch": arch, "source": source, "folder": folder} for arch, folder in checkpoints.items() for source in SOURCES
    ]


@pytest.fixture(scope="session")
def sharded(checkpoints, tmp_path_factory) -> dict[int, dict]:
    """Every case at world size 2: {rank: {case: result}}."""
    out = tmp_path_factory.mktemp("tp-out")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        str(HERE / "sharding_worker.py"), str(out), json.dumps(_cases(checkpoints)),
    ]  # fmt: skip
    done = subprocess.run(command, env=_clean_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-4000:]
    return {rank: json.loads((out / f"rank{rank}.json").read_text()) for rank in (0, 1)}


@pytest.fixture(scope="session")
def single(checkpoints) -> dict[str, dict]:
    """Every case at world size 1 (one run per model: at one rank no source splits anything)."""
    from sharding_worker import run_case

    by_arch = {arch: run_case(folder, "heuristic", SharedConfig()) for arch, folder in checkpoints.items()}
    return {f"{arch}/{source}": by_arch[arch] for arch in checkpoints for source in SOURCES}


CASES = [f"{arch}/{source}" for arch in ARCHS for source in SOURCES]


@pytest.mark.parametrize("case", CASES)
def test_two_ranks_give_the_logits_and_tokens_of_one(case, sharded, single):
    reference = torch.tensor(single[case]["logits"])
    for rank in (0, 1):
        result = sharded[rank][case]
        # q, k, v, o and gate, up, down: also when the MLP reached the sharding stage as one SwiGLU op
        assert result["detected"] == SPLIT_PER_LAYER * SIZES["num_hidden_layers"]
        assert torch.allclose(torch.tensor(result["logits"]), reference, atol=1e-5, rtol=0)
        assert result["tokens"] == single[case]["tokens"]


# weights every rank keeps whole: embeddings, lm_head, norms
REPLICATED = ("embed_tokens", "lm_head", "norm")


@pytest.mark.parametrize("case", CASES)
def test_each_rank_holds_half_of_every_attention_and_mlp_weight(case, sharded, single):
    whole = single[case]
    assert not whole["sliced"]  # one rank: nothing is split
    layers = {name.rsplit(".", 2)[-2] for name in sharded[0][case]["sliced"]}
    assert layers == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    # the fusions after loading rename joined weights (q/k/v, gate/up), so bytes are compared as
    # totals: every rank holds the replicated weights whole and half of all the others
    replicated = sum(size for name, size in whole["bytes_by_name"].items() if any(r in name for r in REPLICATED))
    split = sum(whole["bytes_by_name"].values()) - replicated
    assert replicated > 0 and split > 0
    for rank in (0, 1):
        assert sum(sharded[rank][case]["bytes_by_name"].values()) == replicated + split // 2
    # each rank's KV cache holds its half of the key/value heads
    assert whole["cache_bytes"] > 0
    assert sharded[0][case]["cache_bytes"] == sharded[1][case]["cache_bytes"] == whole["cache_bytes"] // 2


def test_ranks_feed_on_the_tokens_rank_0_sampled(sharded):
    # unseeded sampling draws differently in each process; the ranks must still agree
    assert sharded[0]["sampled"] == sharded[1]["sampled"]
    assert len(set(sharded[0]["sampled"])) > 10  # drawn at random, not a constant


@pytest.fixture(scope="session")
def llama_graph(checkpoints):
    """Tiny Llama's exported, loaded graph at world size 1, to plan other world sizes on."""
    from autodeploy import CachedSequenceInterface, InferenceOptimizer, PluginHost

    host = PluginHost.from_environment()
    factory = host.factory_class("AutoModelForCausalLM")(model=checkpoints["llama"])
    cm = CachedSequenceInterface(max_seq_len=64, max_batch_size=2)
    from autodeploy.graph import named_graphmodules

    # as the sharding stage sees it: q, k and v not yet joined by fuse_gemms, the SwiGLU MLP one op
    # not yet lowered by fuse_swiglu (both post_load_fusion), ops not yet turned into direct calls
    off = {"enabled": False}
    config = {"mode": "graph", "transforms": {"fuse_gemms": off, "fuse_swiglu": off, "compile_model": off}}
    module = InferenceOptimizer(factory, config, host=host).run(cm).module
    return next(graph for _, graph in named_graphmodules(module))


@pytest.mark.parametrize(
    ("world_size", "expected"),
    [
        (3, "model.layers.0.self_attn.q_proj: 64 output features do not divide by world size 3"),
        (4, "model.layers.0.self_attn.k_proj: its 32 output features are 2 heads of 16, which world size 4"),
    ],
)
def test_a_world_size_that_does_not_divide_the_heads_is_refused_naming_layer_and_numbers(
    llama_graph, world_size, expected
):
    from autodeploy_sharding.detect import detect
    from autodeploy_sharding.execute import apply_plan

    before = {name: tuple(t.shape) for name, t in llama_graph.state_dict().items()}
    plan = detect(
        llama_graph,
        rank=0,
        world_size=world_size,
        sources=["heuristic"],
        plans={},
        simple_shard_only=False,
        support_partial_config=True,
        shard_all_unprocessed=False,
    )
    with pytest.raises(ConfigError, match=f"cannot shard the model over {world_size} ranks") as raised:
        apply_plan(llama_graph, plan)
    assert expected in str(raised.value)
    assert {name: tuple(t.shape) for name, t in llama_graph.state_dict().items()} == before  # nothing changed


def test_a_plan_that_splits_the_fused_mlp_otherwise_is_refused(llama_graph):
    from autodeploy_sharding.detect import detect

    assert any("torch_swiglu_mlp" in str(node.target) for node in llama_graph.graph.nodes)
    plan = {"layers.*.mlp.gate_proj": "colwise", "layers.*.mlp.up_proj": "colwise", "layers.*.mlp.down_proj": "gather"}
    with pytest.raises(ConfigError) as raised:
        detect(
            llama_graph,
            rank=0,
            world_size=2,
            sources=["manual"],
            plans={"manual": plan},
            simple_shard_only=False,
            support_partial_config=True,
            shard_all_unprocessed=False,
        )
    message = str(raised.value)
    assert "model.layers.0.mlp is one fused SwiGLU op" in message
    assert "model.layers.0.mlp.down_proj: gather" in message


@pytest.mark.parametrize(
    "config",
    [
        {"mode": "transformers"},
        {
            "mode": "graph",
            "transforms": {"detect_sharding": {"enabled": False}, "sharding_transform_executor": {"enabled": False}},
        },
    ],
    ids=["transformers-mode", "graph-without-sharding"],
)
def test_several_ranks_without_a_sharding_stage_are_refused(checkpoints, config, monkeypatch):
    from autodeploy import InferenceOptimizer, PluginHost

    # rank 0 of 2, as torchrun tells its processes (nothing joins a process group before `run`)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    host = PluginHost.from_environment()
    factory = host.factory_class("AutoModelForCausalLM")(model=checkpoints["llama"])
    with pytest.raises(ConfigError) as raised:
        InferenceOptimizer(factory, config, host=host)
    message = str(raised.value)
    assert "world_size is 2 but this pipeline has no enabled transform of the sharding stage" in message
    assert "--mode graph" in message and "tp_plan" in message
    # the graph preset has them: accepted
    assert InferenceOptimizer(factory, {"mode": "graph"}, host=host).shared_config.world_size == 2


def test_a_failing_rank_stops_the_run_and_is_named(tmp_path):
    driver = (
        "import sys\n"
        "from autodeploy.distributed import RanksFailed, launch_ranks\n"
        "try:\n"
        "    launch_ranks(2, ['failing_worker'])\n"
        "except RanksFailed as exc:\n"
        "    print('FAILED:', exc)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", driver], env=_clean_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "FAILED: rank 1 failed with exit code 1" in done.stdout
    assert "deliberate failure on rank 1" in done.stderr  # the rank's own error reaches the user


def test_run_world_size_2_generates_what_one_rank_does(checkpoints, single, tmp_path):
    from sharding_worker import PROMPT

    report = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "autodeploy", "run", "--model", checkpoints["llama"], "--world-size", "2",
        "--input-ids", ",".join(map(str, PROMPT)), "--max-new-tokens", "8", "--report-json", str(report),
    ]  # fmt: skip
    done = subprocess.run(command, env=_clean_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("generated ids:") == 1  # rank 0 speaks for both
    generated = json.loads(report.read_text())["generation"]["new_ids"]
    expected = single["llama/heuristic"]["tokens"]
    assert generated == expected[: len(generated)] and len(generated) >= 1
