"""Every name `new-plugin` accepts makes a plugin that compiles, imports and passes its own tests.

Names are drawn at random and from the ones that broke the scaffold once (keywords that only
become keywords capitalised, names of what the generated code imports). Each accepted plugin is
written for real, compiled, imported, and its generated transform tests are run in this process
against a fresh plugin host, as ``pytest`` with `autodeploy.testing` would run them. (Installing
one with pip and running its whole suite is `test_new_plugin_passes_its_tests_after_pip_install_e`.)
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import keyword
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autodeploy import PluginHost
from autodeploy.plugin import PluginControls
from autodeploy.scaffold import PluginNames, ScaffoldError, scaffold_plugin
from autodeploy.scaffold.reserved import template_names
from autodeploy.testing import run_transform


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


TRICKY = sorted(
    {
        *keyword.kwlist,
        *(word.lower() for word in keyword.kwlist),
        *keyword.softkwlist,
        *(snake(name) for name in template_names()),
        "k_e_y",
        "exception",
        "value_error",
        "self",
        "test",
        "plugin",
        "transform_pass",
        "autodeploy-plugin-none",
        "a" * 64,
        "a" * 65,
        "x_" * 40,
    }
)
NAMES = st.one_of(st.sampled_from(TRICKY), st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,70}", fullmatch=True))


@pytest.fixture(scope="module")
def tiny_model():
    from autodeploy.testing.tiny_llama import seeded_tiny_llama

    return seeded_tiny_llama()


@contextmanager
def importable(target: Path, names: PluginNames) -> Iterator[Any]:
    """The generated test module, imported with the plugin's package on the path; all undone after."""
    source = str(target / "src")
    sys.path.insert(0, source)
    importlib.invalidate_caches()
    test_file = target / "tests" / f"test_{names.key}_transform.py"
    spec = importlib.util.spec_from_file_location(f"generated_{names.key}_tests", test_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(source)
        for name in [name for name in sys.modules if name == names.package or name.startswith(f"{names.package}.")]:
            del sys.modules[name]


def run_generated_transform_tests(module: Any, key: str, tiny_model) -> None:
    """Call the generated tests with what the testing kit's fixtures would give them."""
    for test_name in (f"test_{key}_records_greeting_and_size", f"test_{key}_can_be_disabled"):
        host = PluginHost(PluginControls(autoload=False))

        def register_plugin(plugin: Any, name: Any = None, host: PluginHost = host) -> None:
            record = host.register(plugin, name=name)
            assert record.is_usable and not host.problems(), (record.error, host.problems())

        getattr(module, test_name)(
            register_plugin, functools.partial(run_transform, host=host), copy.deepcopy(tiny_model)
        )


# the names that broke the scaffold once, always tried besides the drawn ones
ONCE_BROKEN = ("none", "true", "False", "transform_info", "k_e_y", "a" * 300)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES)
@example(name="none")
@example(name="true")
@example(name="False")
@example(name="transform_info")
@example(name="k_e_y")
@example(name="a" * 300)
def test_every_accepted_name_makes_a_plugin_whose_tests_pass(tmp_path_factory, tiny_model, name):
    folder = tmp_path_factory.mktemp("scaffold")
    try:
        target = scaffold_plugin(name, folder)
    except ScaffoldError as exc:
        assert str(exc).startswith("plugin name "), str(exc)
        assert list(folder.iterdir()) == [], "a refused name wrote something"
        return
    names = PluginNames.from_name(name)
    assert names.class_name.isidentifier() and not keyword.iskeyword(names.class_name)
    for path in target.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    with importable(target, names) as module:
        run_generated_transform_tests(module, names.key, tiny_model)


@pytest.mark.parametrize("name", [*ONCE_BROKEN, "transform"])
def test_the_names_that_once_broke_the_scaffold_are_refused(tmp_path, name):
    with pytest.raises(ScaffoldError, match="^plugin name "):
        scaffold_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []
