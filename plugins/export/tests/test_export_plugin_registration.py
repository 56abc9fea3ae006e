"""The installed distribution: entry point, registrations, graph-mode entries, torch-free import."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import distribution

import autodeploy_export.plugin as export_plugin
from autodeploy_export.cleanup_transforms import (
    CleanupInputConstraints,
    CleanupNoopAdd,
    CleanupNoopSlice,
    CleanupUnusedInputs,
)
from autodeploy_export.export_transform import ExportToGM, ExportToGMConfig
from autodeploy_export.gather_logits_transform import GatherLogitsBeforeLmHead

from autodeploy import PluginControls, PluginHost

DISTRIBUTION = "autodeploy-plugin-export"
KEYS = {
    "export_to_gm": ExportToGM,
    "cleanup_noop_slice": CleanupNoopSlice,
    "cleanup_noop_add": CleanupNoopAdd,
    "cleanup_input_constraints": CleanupInputConstraints,
    "cleanup_unused_inputs": CleanupUnusedInputs,
    "gather_logits_before_lm_head": GatherLogitsBeforeLmHead,
}


def test_importing_the_plugin_module_does_not_import_torch():
    script = (
        "import json, sys\n"
        "import autodeploy_export.plugin, autodeploy_export.export_transform, autodeploy_export.cleanup_transforms\n"
        "import autodeploy_export.gather_logits_transform\n"
        "import autodeploy_export.errors, autodeploy_export.failure\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers') if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_distribution_declares_the_transforms_entry_point():
    entry_points = [ep for ep in distribution(DISTRIBUTION).entry_points if ep.group == "autodeploy.transforms"]
    assert [(ep.name, ep.value) for ep in entry_points] == [("export", "autodeploy_export.plugin")]


def test_host_registers_every_key_and_the_graph_mode_entries():
    host = PluginHost(PluginControls(autoload=False))
    record = host.register(export_plugin, name="export")
    assert record.is_usable and not host.problems()

    for key, cls in KEYS.items():
        assert host.transform_class(key) is cls
        assert host.transform_key_of(cls) == cls.transform_key == key

    graph = host.mode("graph")
    assert graph["export_to_gm"] == {
        "stage": "export",
        "run_per_gm": False,
        "requires_clean_graph": False,
        "strict": False,
        "clone_state_dict": False,
    }
    for key in ("cleanup_noop_slice", "cleanup_noop_add", "cleanup_input_constraints", "cleanup_unused_inputs"):
        assert graph[key]["stage"] == "post_export"
        config = KEYS[key].get_config_class()(**graph[key])
        assert config.run_per_gm is True  # per exported GraphModule
    assert ExportToGMConfig(**graph["export_to_gm"]).unknown_fields() == []
    # opt-in: it changes the output to the last position's logits
    assert graph["gather_logits_before_lm_head"] == {"stage": "post_load_fusion", "run_per_gm": True, "enabled": False}


def test_installed_distribution_keeps_the_plugin_contract():
    from autodeploy.testing import check_plugin

    report = check_plugin(DISTRIBUTION, raise_on_problems=False)
    assert report.problems == []
    assert sorted(report.transforms) == sorted(KEYS)
