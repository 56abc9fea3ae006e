"""build_and_load_factory_model on real parts: the transformers mode through the pipeline gives the
logits of from_pretrained + eager, single-file and sharded, for two architectures."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import torch
from autodeploy_build_and_load import BuildAndLoadFactoryModel
from build_and_load_testkit import BuildOnlyFactory
from transformers import AutoModelForCausalLM

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
from autodeploy.graph import logits_of, new_pipeline_module


def eager_logits(folder: Path, input_ids: torch.Tensor, **kwargs) -> torch.Tensor:
    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, **kwargs).eval()
    with torch.no_grad():
        return model(input_ids=input_ids).logits


def hf_factory(host: PluginHost, folder: Path, **kwargs):
    return host.factory_class("AutoModelForCausalLM")(model=str(folder), **kwargs)


@pytest.mark.parametrize("name", ["llama", "llama_sharded", "qwen2", "qwen2_sharded"])
def test_transformers_mode_equals_from_pretrained(
    name: str,
    tiny_checkpoints: dict[str, Path],
    host: PluginHost,
    cm: CachedSequenceInterface,
    input_ids: torch.Tensor,
) -> None:
    folder = tiny_checkpoints[name]
    result = InferenceOptimizer(hf_factory(host, folder), {"mode": "transformers"}, host=host).run(cm)
    mod = result.module
    with torch.no_grad():
        out = logits_of(mod(input_ids=input_ids))  # the container forwards to the (cached) loaded model
    # the cached attention sums in another order than eager: fp32 tolerance, not bit equality
    torch.testing.assert_close(out, eager_logits(folder, input_ids), atol=1e-5, rtol=1e-5)
    (record,) = result.report.by_key("build_and_load_factory_model")
    assert record.status is TransformStatus.APPLIED and record.num_matches == 1
    assert record.info.is_clean and record.info.has_valid_shapes


def test_model_kwargs_reach_the_loaded_model(
    tiny_checkpoints: dict[str, Path], host: PluginHost, cm: CachedSequenceInterface, input_ids: torch.Tensor
) -> None:
    folder = tiny_checkpoints["qwen2_sharded"]
    factory = hf_factory(host, folder, model_kwargs={"num_hidden_layers": 1})
    mod = InferenceOptimizer(factory, {"mode": "transformers"}, host=host)(cm)
    (hf_model,) = [m for m in mod.modules() if type(m).__name__ == "Qwen2Model"]  # behind the cache wrapper
    assert len(hf_model.layers) == 1
    with torch.no_grad():
        out = logits_of(mod(input_ids=input_ids))
    torch.testing.assert_close(out, eager_logits(folder, input_ids, num_hidden_layers=1), atol=1e-5, rtol=1e-5)


def test_direct_call_loads_onto_the_interface_device(
    tiny_checkpoints: dict[str, Path], host: PluginHost, cm: CachedSequenceInterface
) -> None:
    transform = BuildAndLoadFactoryModel.from_kwargs(stage="factory", run_per_gm=False, requires_clean_graph=False)
    mod = transform(new_pipeline_module(), cm, hf_factory(host, tiny_checkpoints["llama"]), SharedConfig())
    assert all(p.device.type == "cpu" for p in mod.factory_model.parameters())
    (record,) = get_history(mod)
    assert record.key == "build_and_load_factory_model" and record.num_matches == 1


def test_target_device_choice() -> None:
    def transform(**kwargs) -> BuildAndLoadFactoryModel:
        return BuildAndLoadFactoryModel.from_kwargs(stage="factory", run_per_gm=False, **kwargs)

    assert transform().target_device(CachedSequenceInterface(device="cuda:0")) == "cuda:0"  # meta default: cm.device
    assert transform(device="cuda:1").target_device(CachedSequenceInterface(device="cuda:0")) == "cuda:1"
    assert transform(device="cpu").target_device(CachedSequenceInterface(device="cuda:0")) == "cpu"
    assert transform().target_device(None) == "cpu"


def test_factory_that_cannot_build_and_load(host: PluginHost, cm: CachedSequenceInterface) -> None:
    factory = BuildOnlyFactory(model="anything")
    with pytest.raises(TransformError) as caught:
        InferenceOptimizer(factory, {"mode": "transformers"}, host=host).run(cm)
    message = str(caught.value)
    assert message.startswith("transform 'build_and_load_factory_model' (stage factory) failed")
    assert "BuildOnlyFactory(model='anything') cannot build and load a model at once" in message
    assert "graph mode" in message
    assert isinstance(caught.value.__cause__, ConfigError)


def test_bad_checkpoint_names_the_file(
    tiny_checkpoints: dict[str, Path], host: PluginHost, cm: CachedSequenceInterface, tmp_path: Path
) -> None:
    import shutil

    folder = Path(shutil.copytree(tiny_checkpoints["llama_sharded"], tmp_path / "damaged"))
    shard = sorted(folder.glob("model-*.safetensors"))[-1]
    shard.write_bytes(shard.read_bytes()[:-8])
    with pytest.raises(TransformError) as caught:
        InferenceOptimizer(hf_factory(host, folder), {"mode": "transformers"}, host=host).run(cm)
    assert isinstance(caught.value.__cause__, CheckpointError)
    assert f"{shard}: not a valid safetensors file, truncated or corrupt" in str(caught.value)


def test_entry_point_and_dependency_on_build_model(host: PluginHost) -> None:
    found = [
        ep
        for ep in importlib.metadata.entry_points(group="autodeploy.transforms")
        if ep.name == "build_and_load_factory_model"
    ]
    assert len(found) == 1 and found[0].value == "autodeploy_build_and_load.plugin"
    assert found[0].dist is not None and found[0].dist.name == "autodeploy-plugin-build-and-load"
    requirements = importlib.metadata.requires("autodeploy-plugin-build-and-load") or []
    assert any(req.startswith("autodeploy-plugin-build-model") for req in requirements)
    record = next(record for record in host.plugins if record.name == "build_and_load_factory_model")
    assert record.is_usable
