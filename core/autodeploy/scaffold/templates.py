"""The files of a new plugin, as `string.Template` texts (``$key``, ``$package``, ...).

The example plugin of the tutorial (``docs/examples/autodeploy-plugin-hello``) is exactly what
these make for the name ``hello``, and a test holds the two together.
"""

from __future__ import annotations

from string import Template

PYPROJECT = Template("""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "An autodeploy plugin: the $key transform."
readme = "README.md"
requires-python = ">=3.10"
# The core versions this plugin is written for. While the core is 0.x a minor release may change
# the plugin contract, so the range ends before the next one; autodeploy refuses to load a plugin
# whose range excludes the running core, and says so, instead of failing later.
dependencies = ["$core_requirement"]

[project.optional-dependencies]
test = ["pytest>=8", "torch>=2.6", "safetensors>=0.4"]

# How autodeploy finds the plugin: the group says what kind of plugin it is, the name is the
# plugin's name (in `list-plugins` and for `-p no:NAME`), the value names the module holding the
# hook implementations.
[project.entry-points."autodeploy.transforms"]
$key = "$package.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
""")

README = Template("""\
# $distribution

An autodeploy plugin that adds the `$key` transform.

```bash
pip install -e ".[test]"
python -m autodeploy list-transforms      # $key is listed, provided by $distribution
python -m autodeploy show $key            # its description, fields and JSON schema
python -m pytest                          # the plugin's tests
```
""")

PACKAGE_INIT = Template('''\
"""autodeploy plugin $distribution: the $key transform (see plugin.py for what it registers)."""
''')

TRANSFORM = Template('''\
"""The $key transform: records a greeting and the model's size on the module.

A starting point for a transform of your own: keep the shape (a config class, a transform class
whose `get_config_class` returns it, and `_apply_to_full_model` or `_apply`) and replace the body.
This module must not import torch at module level: listing transforms imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from pydantic import Field

from autodeploy import BaseTransform, SharedConfig, TransformConfig, TransformInfo

if TYPE_CHECKING:
    from torch import nn

    from autodeploy import CachedSequenceInterface, ModelFactory

META_KEY = "$key"


class $config_class_name(TransformConfig):
    """Configuration for the $key transform."""

    greeting: str = Field(default="hello", description="The text the transform records on the module.")


class $class_name(BaseTransform):
    """Record a greeting and the number of parameters on the module, in ``mod.meta["$key"]``.

    It works on the whole module (``run_per_gm: false``), so it runs the same before and after
    export; a transform that rewrites graphs implements ``_apply`` instead, called once per
    ``GraphModule`` (``run_per_gm: true``).
    """

    config: $config_class_name

    @classmethod
    def get_config_class(cls) -> type[TransformConfig]:
        """The config class: the fields a pipeline config may set for this transform."""
        return $config_class_name

    def _apply_to_full_model(
        self,
        mod: nn.Module,
        cm: CachedSequenceInterface,
        factory: Optional[ModelFactory],
        shared_config: SharedConfig,
    ) -> tuple[nn.Module, TransformInfo]:
        num_parameters = sum(parameter.numel() for parameter in mod.parameters())
        if not isinstance(getattr(mod, "meta", None), dict):
            mod.meta = {}
        mod.meta[META_KEY] = {"greeting": self.config.greeting, "num_parameters": num_parameters}
        # one match; no graph was changed, so a graph stays clean and its shapes stay valid
        return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)
''')

PLUGIN = Template('''\
"""Hook implementations: what this plugin gives autodeploy.

The entry point in pyproject.toml names this module. Importing it must stay cheap (no torch here
or in what it imports at module level): every `list-transforms` imports it.
"""

from typing import Any, Callable, Mapping

from autodeploy import hookimpl

KEY = "$key"


@hookimpl
def autodeploy_register_transforms(register: Callable[[str, type], None]) -> None:
    """Register the transform under its key: the name configs, modes and docs use."""
    from .transform import $class_name

    register(KEY, $class_name)


@hookimpl
def autodeploy_register_modes(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """Add the transform to the preset pipelines (``enabled: false`` in a config turns it off)."""
    entry = {"stage": "visualize", "run_per_gm": False}
    register("graph", {KEY: dict(entry)})
    register("transformers", {KEY: dict(entry)})
''')

CONFTEST = Template("""\
# Opt in to autodeploy's testing kit: plugin_host, register_plugin, run_transform, tiny_model, ...
pytest_plugins = ["autodeploy.testing"]
""")

TEST = Template('''\
"""Tests of the $key plugin, with autodeploy's testing kit (enabled in conftest.py)."""

import $package.plugin
from autodeploy import TransformStatus
from autodeploy.testing import check_plugin

DISTRIBUTION = "$distribution"


def test_${key}_records_greeting_and_size(register_plugin, run_transform, tiny_model):
    register_plugin($package.plugin)
    mod, record = run_transform("$key", tiny_model, greeting="hi")

    assert record.status is TransformStatus.APPLIED
    assert record.num_matches == 1
    num_parameters = sum(parameter.numel() for parameter in tiny_model.parameters())
    assert mod.meta["$key"] == {"greeting": "hi", "num_parameters": num_parameters}


def test_${key}_can_be_disabled(register_plugin, run_transform, tiny_model):
    register_plugin($package.plugin)
    mod, record = run_transform("$key", tiny_model, enabled=False)

    assert record.status is TransformStatus.DISABLED
    assert "$key" not in mod.meta


def test_installed_distribution_keeps_the_plugin_contract():
    report = check_plugin(DISTRIBUTION)  # raises, listing every problem, if it does not
    assert report.transforms == ["$key"]
''')

# relative path (with ``$package`` in it) -> template
FILES: dict[str, Template] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "conftest.py": CONFTEST,
    "src/$package/__init__.py": PACKAGE_INIT,
    "src/$package/plugin.py": PLUGIN,
    "src/$package/transform.py": TRANSFORM,
    "tests/test_${key}_transform.py": TEST,
}
