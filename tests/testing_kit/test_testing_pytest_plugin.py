"""`autodeploy.testing` as plugin authors use it: a pytest plugin they opt in to.

The fixtures are exercised by a real pytest run in a fresh folder, as in a plugin's repository.
"""

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest

FIXTURE_TESTS = '''
import pytest
import torch

from autodeploy import BaseTransform, TransformInfo, TransformStatus, hookimpl
from autodeploy.testing import TinyLlamaFactory


class CountParameters(BaseTransform):
    """Count parameter tensors."""

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        return mod, TransformInfo(skipped=False, num_matches=len(list(mod.parameters())))


class Plugin:
    @hookimpl
    def autodeploy_register_transforms(self, register):
        register("count_parameters", CountParameters)

    @hookimpl
    def autodeploy_register_modes(self, register):
        register("graph", {"count_parameters": {"stage": "compile", "run_per_gm": False}})


class MisspeltPlugin:
    @hookimpl
    def autodeploy_register_transform(self, register):
        pass


def test_plugin_host_loads_no_installed_plugin(plugin_host):
    assert plugin_host.transforms() == {}
    assert plugin_host.plugins == []


def test_register_plugin_and_run_transform(register_plugin, run_transform, tiny_model, plugin_host):
    record = register_plugin(Plugin(), name="counter")
    assert record.is_usable and "transform count_parameters" in record.provides
    mod, run_record = run_transform("count_parameters", tiny_model)
    assert run_record.status is TransformStatus.APPLIED
    assert run_record.num_matches == len(list(tiny_model.parameters()))


def test_registration_is_per_test(plugin_host):
    assert "count_parameters" not in plugin_host.transforms()


def test_a_refused_plugin_fails_the_test_with_the_reason(register_plugin):
    with pytest.raises(pytest.fail.Exception, match="unknown hook 'autodeploy_register_transform'"):
        register_plugin(MisspeltPlugin(), name="misspelt")


def test_tiny_model_factory_reads_the_tiny_checkpoint(tiny_model_factory, tiny_checkpoint, tiny_model):
    assert sorted(path.name for path in tiny_checkpoint.iterdir()) == ["model.safetensors", "tiny_llama.json"]
    assert isinstance(tiny_model_factory, TinyLlamaFactory)
    model = tiny_model_factory.build_and_load_model("cpu")
    input_ids = tiny_model_factory.get_example_inputs()["input_ids"]
    assert torch.equal(model(input_ids), tiny_model(input_ids))  # same seed, same weights


def test_installed_plugin_host_sees_the_installed_plugins(installed_plugin_host):
    assert any(record.distribution for record in installed_plugin_host.plugins)
'''

HOST_ONLY_TEST = """
def test_plugin_host_is_available(plugin_host):
    assert plugin_host.transforms() == {}
"""


def run_pytest(folder, *args):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )


@pytest.mark.slow
def test_fixtures_work_when_opted_in_from_conftest(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["autodeploy.testing"]\n')
    (tmp_path / "test_kit_fixtures.py").write_text(textwrap.dedent(FIXTURE_TESTS))
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


@pytest.mark.slow
def test_opting_in_with_dash_p_and_not_otherwise(tmp_path):
    (tmp_path / "test_kit_host.py").write_text(HOST_ONLY_TEST)
    opted_in = run_pytest(tmp_path, "-p", "autodeploy.testing")
    assert opted_in.returncode == 0, opted_in.stdout + opted_in.stderr

    not_opted_in = run_pytest(tmp_path)
    assert not_opted_in.returncode != 0
    assert "fixture 'plugin_host' not found" in not_opted_in.stdout


def test_not_registered_through_a_pytest11_entry_point():
    core = importlib.metadata.distribution("autodeploy-core")
    assert [ep for ep in core.entry_points if ep.group == "pytest11"] == []


def test_importing_the_kit_does_not_import_torch():
    code = "import sys, autodeploy.testing; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
