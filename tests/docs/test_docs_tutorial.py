"""The plugin tutorial (docs/writing-plugins.md) cannot rot: its example plugin is the scaffold's
output, every file it quotes is that file, and the installed example lists and runs."""

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from autodeploy import (
    CachedSequenceInterface,
    InferenceOptimizer,
    PluginControls,
    PluginHost,
    TransformStatus,
    hookspecs,
)
from autodeploy.plugin.controls import ALLOW_VAR, BLOCK_VAR, DISABLE_AUTOLOAD_VAR, STRICT_VAR
from autodeploy.plugin.loader import ENTRY_POINT_GROUPS
from autodeploy.scaffold import PluginNames, core_requirement, render_plugin_files
from autodeploy.testing import TinyLlamaFactory, write_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "writing-plugins.md"
EXAMPLE = ROOT / "docs" / "examples" / "autodeploy-plugin-hello"
BUILD_LEFTOVERS = {"build", "__pycache__", ".pytest_cache"}


def example_files() -> dict[str, str]:
    files = {}
    for path in sorted(EXAMPLE.rglob("*")):
        relative = path.relative_to(EXAMPLE)
        if path.is_file() and not any(part in BUILD_LEFTOVERS or part.endswith(".egg-info") for part in relative.parts):
            files[relative.as_posix()] = path.read_text(encoding="utf-8")
    return files


def marked_blocks(kind: str) -> dict[str, str]:
    """``<!-- kind: name -->`` followed by a fenced block -> {name: block text}."""
    text = TUTORIAL.read_text(encoding="utf-8")
    pattern = rf"<!-- {kind}: (\S+) -->\n```[a-z]*\n(.*?)\n```"
    return {name: body for name, body in re.findall(pattern, text, re.S)}


def test_example_plugin_is_exactly_what_new_plugin_makes():
    assert example_files() == render_plugin_files(PluginNames.from_name("hello"))


def test_tutorial_quotes_the_example_files_verbatim():
    quoted = marked_blocks("file")
    assert set(quoted) >= {"pyproject.toml", "src/autodeploy_hello/transform.py", "src/autodeploy_hello/plugin.py"}
    files = example_files()
    for name, body in quoted.items():
        assert body + "\n" == files[name], f"{name} in the tutorial differs from {EXAMPLE / name}"


def test_tutorial_covers_hooks_groups_core_range_and_controls():
    text = TUTORIAL.read_text(encoding="utf-8")
    for group in ENTRY_POINT_GROUPS:
        assert f"`{group}`" in text
    assert core_requirement() in text
    for control in (DISABLE_AUTOLOAD_VAR, ALLOW_VAR, BLOCK_VAR, STRICT_VAR, "-p no:"):
        assert control in text
    pluggy_specs = [name for name in vars(hookspecs) if name.startswith("autodeploy_")]
    for name in pluggy_specs:
        assert f"`{name}(" in text, f"hook {name} is not in the tutorial's table"


def test_observer_from_the_tutorial_sees_every_transform(hello_example_on_path):
    import autodeploy_hello.plugin

    observer = types.ModuleType("tutorial_observer")
    exec(compile(marked_blocks("check")["observer"], "writing-plugins.md", "exec"), observer.__dict__)
    host = PluginHost(PluginControls(autoload=False))
    for plugin in (autodeploy_hello.plugin, observer):
        assert host.register(plugin).is_usable
    model = torch.nn.Linear(2, 2)
    optimizer = InferenceOptimizer(
        None, {"transforms": {"hello": {"stage": "visualize", "run_per_gm": False}}}, host=host
    )
    optimizer.run(CachedSequenceInterface(max_seq_len=8), mod=model)
    assert set(observer.timings) == {"hello"}
    seconds, status = observer.timings["hello"]
    assert seconds >= 0 and status == "applied"


def test_installed_example_is_listed_as_the_tutorial_shows(hello_example_env):
    def normalized(lines):
        return [" ".join(line.split()) for line in lines]

    result = subprocess.run(
        [sys.executable, "-m", "autodeploy", "list-transforms"],
        capture_output=True,
        text=True,
        env=hello_example_env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    shown = [line for line in marked_blocks("output")["list-transforms"].splitlines() if line != "..."]
    actual = normalized(result.stdout.splitlines())
    for line in normalized(shown):
        assert line in actual, f"{line!r} not in the output of list-transforms:\n{result.stdout}"


@pytest.mark.slow
def test_installed_example_runs_in_a_pipeline_with_the_first_party_plugins(hello_example_on_path, tmp_path):
    factory = TinyLlamaFactory(model=str(write_tiny_checkpoint(tmp_path / "tiny")))
    host = PluginHost.from_environment(environ={})
    assert host.transforms()["hello"].plugin.distribution == "autodeploy-plugin-hello"
    config = {
        "mode": "graph",
        "transforms": {
            # the tiny model is not a Hugging Face model: keep it eager, load its weights, greet
            "export_to_gm": {"enabled": False},
            "compile_model": {"enabled": False},
            "hello": {"greeting": "good morning"},
        },
    }
    result = InferenceOptimizer(factory, config, host=host).run(CachedSequenceInterface(max_seq_len=32))

    hello = result.report.by_key("hello")
    assert [record.status for record in hello] == [TransformStatus.APPLIED]
    assert result.report.by_key("load_weights")[0].status is TransformStatus.APPLIED
    reference = factory.build_and_load_model("cpu")
    assert result.module.meta["hello"] == {
        "greeting": "good morning",
        "num_parameters": sum(parameter.numel() for parameter in reference.parameters()),
    }
    input_ids = factory.get_example_inputs()["input_ids"]
    assert torch.equal(result.module(input_ids), reference(input_ids))
