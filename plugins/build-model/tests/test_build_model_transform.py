"""The build_model transform on real parts: the installed plugins, the Hugging Face factory, the
pipeline's container module; a Llama-3-70B-sized model built on meta costs no storage and no time."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from autodeploy_build_model import BuildModel
from build_model_testkit import storage_bytes_off_meta
from transformers import LlamaForCausalLM

from autodeploy import (
    CachedSequenceInterface,
    CheckpointError,
    ConfigError,
    InferenceOptimizer,
    PluginHost,
    SharedConfig,
    TransformError,
    TransformStatus,
    get_history,
)
from autodeploy.graph import new_pipeline_module


def graph_mode_build_model(host: PluginHost) -> dict:
    """A pipeline of the graph mode's build_model entry only (the rest of the mode is other plugins';
    ``mode: null``: no preset under it, where the default would be the whole graph mode)."""
    return {"mode": None, "transforms": {"build_model": host.mode("graph")["build_model"]}}


def hf_factory(host: PluginHost, folder: Path, **kwargs):
    return host.factory_class("AutoModelForCausalLM")(model=str(folder), **kwargs)


def test_direct_call_puts_a_meta_model_into_the_container(
    host: PluginHost, tiny_llama_dir: Path, cm: CachedSequenceInterface
) -> None:
    transform = BuildModel.from_kwargs(stage="factory", run_per_gm=False, requires_clean_graph=False)
    mod = transform(new_pipeline_module(), cm, hf_factory(host, tiny_llama_dir), SharedConfig())
    assert isinstance(mod.factory_model, LlamaForCausalLM)
    assert storage_bytes_off_meta(mod) == 0
    (record,) = get_history(mod)
    assert record.key == "build_model" and record.status is TransformStatus.APPLIED
    assert record.info.num_matches == 1 and record.info.is_clean and record.info.has_valid_shapes


def test_llama_70b_through_the_pipeline_allocates_nothing_and_is_fast(
    host: PluginHost, tiny_llama_dir: Path, llama_70b_config_dir: Path, cm: CachedSequenceInterface
) -> None:
    # warm up once (imports the Llama modeling code), then time the real thing
    InferenceOptimizer(hf_factory(host, tiny_llama_dir), graph_mode_build_model(host), host=host).run(cm)
    factory = hf_factory(host, llama_70b_config_dir, skip_loading_weights=True)
    optimizer = InferenceOptimizer(factory, graph_mode_build_model(host), host=host)
    start = time.perf_counter()
    result = optimizer.run(cm)
    elapsed = time.perf_counter() - start
    model = result.module.factory_model
    assert sum(p.numel() for p in model.parameters()) > 70e9
    assert all(p.is_meta for p in model.parameters())
    assert storage_bytes_off_meta(result.module) == 0
    assert elapsed < 1.0
    (record,) = result.report.records
    assert record.key == "build_model" and record.num_matches == 1
    assert record.mem_change_mb < 100


def test_device_option_builds_there(host: PluginHost, tiny_llama_dir: Path, cm: CachedSequenceInterface) -> None:
    config = graph_mode_build_model(host)
    config["transforms"]["build_model"]["device"] = "cpu"
    mod = InferenceOptimizer(hf_factory(host, tiny_llama_dir), config, host=host)(cm)
    assert all(p.device.type == "cpu" for p in mod.factory_model.parameters())


def test_mistyped_device_fails_at_validation(host: PluginHost, tiny_llama_dir: Path) -> None:
    config = graph_mode_build_model(host)
    config["transforms"]["build_model"]["device"] = "GPU 0"
    with pytest.raises(ConfigError, match=r"transforms\.build_model\.device.*not a torch device string"):
        InferenceOptimizer(hf_factory(host, tiny_llama_dir), config, host=host)


def test_no_factory_is_a_clear_transform_error(host: PluginHost, cm: CachedSequenceInterface) -> None:
    expected = r"transform 'build_model' \(stage factory\) failed: .*through a model factory, but the pipeline has none"
    with pytest.raises(TransformError, match=expected) as caught:
        InferenceOptimizer(None, graph_mode_build_model(host), host=host).run(cm)
    assert isinstance(caught.value.__cause__, ConfigError)


def test_bad_checkpoint_names_the_file_through_the_pipeline(
    host: PluginHost, tiny_llama_dir: Path, tmp_path: Path, cm: CachedSequenceInterface
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"})[:-3])
    with pytest.raises(TransformError) as caught:
        InferenceOptimizer(hf_factory(host, folder), graph_mode_build_model(host), host=host).run(cm)
    assert isinstance(caught.value.__cause__, CheckpointError)
    assert f"{folder / 'config.json'}: not valid JSON" in str(caught.value)
    assert caught.value.key == "build_model" and caught.value.stage == "factory"


def test_entry_point_of_the_installed_distribution(host: PluginHost) -> None:
    found = [ep for ep in importlib.metadata.entry_points(group="autodeploy.transforms") if ep.name == "build_model"]
    assert len(found) == 1 and found[0].value == "autodeploy_build_model.plugin"
    assert found[0].dist is not None and found[0].dist.name == "autodeploy-plugin-build-model"
    record = next(record for record in host.plugins if record.name == "build_model")
    assert record.is_usable and "build_model" in " ".join(record.provides)


def test_listing_transforms_imports_no_torch() -> None:
    script = textwrap.dedent(
        """
        import sys
        from autodeploy import PluginHost
        host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-plugin-build-model"})
        assert host.transform_class("build_model").__name__ == "BuildModel"
        assert "build_model" in host.mode("graph")
        print(",".join(name for name in ("torch", "transformers") if name in sys.modules) or "none")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "none"


def test_pipeline_module_forwards_to_the_built_model(
    host: PluginHost, tiny_llama_dir: Path, cm: CachedSequenceInterface
) -> None:
    config = graph_mode_build_model(host)
    config["transforms"]["build_model"]["device"] = "cpu"
    factory = hf_factory(host, tiny_llama_dir)
    mod = InferenceOptimizer(factory, config, host=host)(cm)
    factory.load_or_random_init(mod.factory_model, "cpu")
    input_ids = torch.randint(0, 128, (2, 5))
    with torch.no_grad():
        assert torch.equal(mod(input_ids=input_ids).logits, mod.factory_model(input_ids=input_ids).logits)
