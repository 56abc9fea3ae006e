"""The installed distribution: its entry point, what it registers, its configs, and that
listing or validating it does not import torch."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distribution, entry_points

import pytest
from autodeploy_load_weights import plugin
from autodeploy_load_weights.config import LoadWeightsToDeviceConfig, MoveDeviceConfig
from autodeploy_load_weights.transforms import LoadWeightsToDevice, MoveInputsToDevice
from pydantic import ValidationError

from autodeploy import PluginControls, PluginHost, Stages


def test_entry_point_names_the_plugin_module():
    (found,) = [
        ep for ep in entry_points(group="autodeploy.transforms") if ep.value == "autodeploy_load_weights.plugin"
    ]
    assert found.dist.name == "autodeploy-plugin-load-weights"
    requirements = distribution("autodeploy-plugin-load-weights").requires or []
    assert any(req.startswith("autodeploy-core") for req in requirements)
    assert any(req.startswith("tqdm") for req in requirements)


def test_installed_plugin_provides_both_transforms_and_graph_preset_entries():
    host = PluginHost.from_environment()

    assert host.transform_class("load_weights") is LoadWeightsToDevice
    assert host.transform_class("move_inputs_to_device") is MoveInputsToDevice
    graph = host.mode("graph")
    assert graph["load_weights"] == {
        "stage": "weight_load",
        "run_per_gm": False,
        "expect_mem_change": True,
        "checkpoint_device": None,
    }
    assert graph["move_inputs_to_device"] == {"stage": "weight_load", "run_per_gm": True}
    assert "load_weights" not in host.modes().get("transformers", {})


def test_registered_in_process_the_keys_are_the_configs_keys():
    host = PluginHost(PluginControls(autoload=False))
    host.register(plugin, name="load_weights_under_test")

    assert set(host.transforms()) == {"load_weights", "move_inputs_to_device"}
    assert host.transform_key_of(LoadWeightsToDevice) == LoadWeightsToDevice.transform_key == "load_weights"


def test_config_fields_and_defaults():
    config = LoadWeightsToDeviceConfig(stage="weight_load")
    assert config.stage is Stages.WEIGHT_LOAD
    assert config.checkpoint_device is None
    assert config.show_progress is None
    assert config.random_init_seed == 0 and config.random_init_std == 0.02
    assert MoveDeviceConfig(stage="weight_load", checkpoint_device="cpu").checkpoint_device == "cpu"
    with pytest.raises(ValidationError, match="show_progress"):
        LoadWeightsToDeviceConfig(stage="weight_load", show_progress="sometimes")
    with pytest.raises(ValidationError, match="random_init_std"):
        LoadWeightsToDeviceConfig(stage="weight_load", random_init_std=0)


def test_plugin_and_configs_import_without_torch():
    code = (
        "import sys\n"
        "from autodeploy import PluginControls, PluginHost\n"
        "import autodeploy_load_weights.plugin as plugin\n"
        "host = PluginHost(PluginControls(autoload=False)); host.register(plugin, name='lw')\n"
        "cls = host.transform_class('load_weights')\n"
        "cls.get_config_class()(stage='weight_load', show_progress=True)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'tqdm') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
