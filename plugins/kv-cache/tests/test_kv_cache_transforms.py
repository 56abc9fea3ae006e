"""The cache_init transforms around the models: attention backends as plugins, the presets, the
uncached path by config, cache sizing, and clear errors."""

from __future__ import annotations

import pytest
import torch

from autodeploy import (
    AttentionBackend,
    CachedSequenceInterface,
    InferenceOptimizer,
    PluginControls,
    PluginError,
    PluginHost,
    SharedConfig,
    TransformError,
    hookimpl,
)
from autodeploy.graph import greedy_generate, new_pipeline_module
from autodeploy.testing import seeded_tiny_llama

GRAPH_NO_FACTORY = {"build_model": {"enabled": False}, "load_weights": {"enabled": False}}
UNCACHED = {"insert_cached_attention": {"enabled": False}}


def run_graph(transforms: dict, max_batch_size: int = 4):
    container = new_pipeline_module()
    model = seeded_tiny_llama()
    container.factory_model = seeded_tiny_llama()
    cm = CachedSequenceInterface(max_seq_len=48, max_batch_size=max_batch_size)
    config = {"mode": "graph", "transforms": {**GRAPH_NO_FACTORY, **transforms}}
    return model, InferenceOptimizer(None, config).run(cm, container), cm


@pytest.fixture(scope="module")
def cached():
    return run_graph({})


def test_the_torch_backend_comes_from_the_installed_plugin():
    host = PluginHost.from_environment()
    provider = host.attention_backends()["torch"]
    assert provider.plugin.distribution == "autodeploy-plugin-kv-cache"
    assert isinstance(provider.obj, AttentionBackend)
    with pytest.raises(PluginError, match="unknown attention backend 'flashinfer'.*installed backends: torch"):
        host.attention_backend("flashinfer")


class OtherBackend(AttentionBackend):
    """A third party's backend (it only needs registering here)."""


class BackendPlugin:
    @hookimpl
    def autodeploy_register_attention_backends(self, register):
        register("other", OtherBackend())
        register("broken", object())


def test_a_plugin_registers_a_backend_and_a_bad_one_is_reported():
    host = PluginHost(PluginControls(autoload=False))
    record = host.register(BackendPlugin(), name="backend-plugin")
    assert isinstance(host.attention_backend("other"), OtherBackend)
    assert "attention backend other" in record.provides
    assert any("not an autodeploy.AttentionBackend" in problem for problem in host.problems())


def test_the_presets_run_the_cache_transforms_in_autodeploys_order():
    host = PluginHost.from_environment()

    def keys(mode, stage):
        return [key for key, entry in host.mode(mode).items() if entry["stage"] == stage]

    attention_matchers = [
        "match_repeat_kv",
        "match_eager_attention",
        "match_sdpa_to_torch_attention",
        "match_grouped_attention",
        "match_attention_layout",
    ]
    # other plugins (fusions) add matchers of their own to the stage; these keep their order
    assert [key for key in keys("graph", "pattern_matcher") if key in attention_matchers] == attention_matchers
    assert keys("graph", "cache_init") == ["insert_cached_attention", "initialize_cache", "resize_kv_cache"]
    assert keys("transformers", "cache_init") == [
        "detect_hf_attn_layers",
        "transformers_replace_cached_attn",
        "initialize_cache",
        "resize_kv_cache",
    ]


@pytest.mark.slow
def test_cached_greedy_equals_the_model_and_the_uncached_path_stays_reachable(cached):
    model, result, cm = cached
    ids = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(0))
    expected = greedy_generate(model, ids, 20)  # the eager model, whole sequence each step
    assert cm.cache_names and greedy_generate(result.module, ids, 20, cm=cm).tolist() == expected.tolist()

    _, uncached, uncached_cm = run_graph(UNCACHED)
    assert uncached_cm.cache_names == []
    keys = {record.key: record.status.value for record in uncached.report.records}
    assert keys["insert_cached_attention"] == "disabled" and keys["initialize_cache"] == "skipped"
    assert greedy_generate(uncached.module, ids, 20, cm=uncached_cm).tolist() == expected.tolist()


@pytest.mark.slow
def test_resize_keeps_the_cache_within_the_limits_and_shrinks_it_to_what_fits(cached):
    from autodeploy_kv_cache.memory import available_bytes
    from autodeploy_kv_cache.transforms import ResizeKVCache

    _, result, cm = cached
    full = cm.cache_bytes()
    resize = ResizeKVCache.from_kwargs(stage="cache_init", run_per_gm=False, free_mem_ratio=1.0)
    resize(result.module, cm, None, SharedConfig())
    assert cm.cache_bytes() == full and cm.max_batch_size == 4  # never beyond what the limits need

    # a ratio that leaves room for about two of the four slots
    ratio = (full / 2 + full / 8) / (available_bytes("cpu") + full)
    resize = ResizeKVCache.from_kwargs(stage="cache_init", run_per_gm=False, free_mem_ratio=ratio)
    resize(result.module, cm, None, SharedConfig())
    assert 1 <= cm.max_batch_size < 4 and cm.cache_bytes() == full // 4 * cm.max_batch_size

    resize = ResizeKVCache.from_kwargs(stage="cache_init", run_per_gm=False, free_mem_ratio=1e-12)
    with pytest.raises(TransformError, match="needs .* bytes of KV cache"):
        resize(result.module, cm, None, SharedConfig())


def test_an_unknown_backend_is_a_clear_error():
    from autodeploy_kv_cache.transforms import InsertCachedAttention

    graph = torch.fx.symbolic_trace(torch.nn.Linear(2, 2))
    insert = InsertCachedAttention.from_kwargs(stage="cache_init", run_per_gm=False, backend="nope")
    with pytest.raises(TransformError, match="unknown attention backend 'nope'.*installed backends: torch"):
        insert(graph, CachedSequenceInterface(max_seq_len=8), None, SharedConfig())
