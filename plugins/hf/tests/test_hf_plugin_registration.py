"""The installed distribution is found through its entry point, registers AutoDeploy's factory names,
and neither importing it nor registering imports torch or transformers."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

from autodeploy_hf import AutoModelForCausalLMFactory, AutoModelForImageTextToTextFactory

from autodeploy import PluginHost


def test_entry_point_of_the_installed_distribution() -> None:
    found = [ep for ep in importlib.metadata.entry_points(group="autodeploy.plugins") if ep.name == "hf"]
    assert len(found) == 1
    assert found[0].value == "autodeploy_hf.plugin"
    assert found[0].dist is not None and found[0].dist.name == "autodeploy-plugin-hf"
    requirements = importlib.metadata.requires("autodeploy-plugin-hf") or []
    assert any(req.startswith("transformers") for req in requirements)
    assert not any(req.startswith("transformers") for req in importlib.metadata.requires("autodeploy-core") or [])


def test_host_finds_the_factories_by_autodeploy_names() -> None:
    host = PluginHost.from_environment(environ={})
    assert host.factory_class("AutoModelForCausalLM") is AutoModelForCausalLMFactory
    assert host.factory_class("AutoModelForImageTextToText") is AutoModelForImageTextToTextFactory
    record = next(record for record in host.plugins if record.name == "hf")
    assert record.is_usable and record.distribution == "autodeploy-plugin-hf"


def test_registering_imports_neither_torch_nor_transformers() -> None:
    script = textwrap.dedent(
        """
        import sys
        from autodeploy import PluginHost
        host = PluginHost.from_environment(environ={"AUTODEPLOY_PLUGINS": "autodeploy-plugin-hf"})
        assert host.factory_class("AutoModelForCausalLM").__name__ == "AutoModelForCausalLMFactory"
        heavy = sorted(name for name in ("torch", "transformers", "safetensors") if name in sys.modules)
        print(",".join(heavy) or "none")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "none"
