"""`autodeploy.testing.run_transform` runs one transform as a pipeline would."""

import pytest
import torch
from pydantic import Field

from autodeploy import (
    BaseTransform,
    ConfigError,
    PluginControls,
    PluginHost,
    TransformConfig,
    TransformError,
    TransformInfo,
    TransformStatus,
    get_history,
    hookimpl,
)
from autodeploy.testing import TinyLlamaFactory, run_transform, write_tiny_checkpoint
from autodeploy.testing.tiny_llama import seeded_tiny_llama


class ScaleConfig(TransformConfig):
    """Scale every Linear weight."""

    factor: float = Field(default=2.0, description="The factor.")


class ScaleLinears(BaseTransform):
    """Multiply every Linear weight by `factor`; one match per Linear."""

    transform_key = "scale_linears"

    @classmethod
    def get_config_class(cls):
        return ScaleConfig

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        linears = [module for module in mod.modules() if isinstance(module, torch.nn.Linear)]
        with torch.no_grad():
            for linear in linears:
                linear.weight.mul_(self.config.factor)
        return mod, TransformInfo(skipped=False, num_matches=len(linears), is_clean=True, has_valid_shapes=True)


class Explode(BaseTransform):
    """Always fails."""

    transform_key = "explode"

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        raise RuntimeError("boom")


class FactoryBuild(BaseTransform):
    """Put the factory's model on the module, as a factory-stage transform does."""

    transform_key = "factory_build"

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        mod.factory_model = factory.build_and_load_model("cpu")
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)


class ScalePlugin:
    @hookimpl
    def autodeploy_register_transforms(self, register):
        register("scale_linears", ScaleLinears)

    @hookimpl
    def autodeploy_register_modes(self, register):
        register("graph", {"scale_linears": {"stage": "post_load_fusion", "run_per_gm": False, "factor": 3.0}})


@pytest.fixture
def host():
    host = PluginHost(PluginControls(autoload=False))
    host.register(ScalePlugin(), name="scale")
    return host


@pytest.fixture
def tiny_model_factory_dir(tmp_path):
    return write_tiny_checkpoint(tmp_path / "ckpt")


def test_by_key_takes_the_mode_entry_and_config_overrides(host):
    model = seeded_tiny_llama()
    before = model.lm_head.weight.detach().clone()
    mod, record = run_transform("scale_linears", model, host=host)
    assert mod is model
    assert record.key == "scale_linears" and record.stage.value == "post_load_fusion"
    assert record.status is TransformStatus.APPLIED
    assert record.num_matches == sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert torch.equal(model.lm_head.weight, before * 3.0)  # the mode's factor
    assert get_history(mod) == [record]

    _, record = run_transform("scale_linears", model, host=host, factor=0.5)
    assert torch.equal(model.lm_head.weight, before * 1.5)


def test_by_class_needs_a_stage_and_names_the_transform():
    with pytest.raises(ConfigError, match="stage") as excinfo:
        run_transform(ScaleLinears, seeded_tiny_llama(), run_per_gm=False)
    assert "scale_linears" in str(excinfo.value)
    _, record = run_transform(ScaleLinears, seeded_tiny_llama(), stage="post_load_fusion", run_per_gm=False)
    assert record.status is TransformStatus.APPLIED


def test_invalid_config_is_a_config_error(host):
    with pytest.raises(ConfigError, match="factor"):
        run_transform("scale_linears", seeded_tiny_llama(), host=host, factor="a lot")


def test_failure_raises_or_is_recorded_with_skip_on_error():
    model = seeded_tiny_llama()
    with pytest.raises(TransformError, match="boom"):
        run_transform(Explode, model, stage="compile", run_per_gm=False)
    _, record = run_transform(Explode, model, stage="compile", run_per_gm=False, skip_on_error=True)
    assert record.status is TransformStatus.FAILED and "boom" in record.error


def test_default_module_is_an_empty_pipeline_module_filled_from_the_factory(tiny_model_factory_dir):
    factory = TinyLlamaFactory(model=str(tiny_model_factory_dir))
    mod, record = run_transform(FactoryBuild, factory=factory, stage="factory", run_per_gm=False)
    input_ids = factory.get_example_inputs()["input_ids"]
    assert record.status is TransformStatus.APPLIED
    assert torch.equal(mod(input_ids), factory.build_and_load_model("cpu")(input_ids))


def test_unknown_key_gets_the_hosts_error(host):
    with pytest.raises(ConfigError, match="did you mean 'scale_linears'"):
        run_transform("scale_linear", seeded_tiny_llama(), host=host)
