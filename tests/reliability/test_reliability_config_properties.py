"""Property-based: random config data and random YAML text, fed to ``validate`` and to the
optimizer's constructor, either validate or raise the project's own `ConfigError`; nothing else
escapes (no KeyError, TypeError, RecursionError, pydantic or YAML exception).

The strategies are biased towards what configs look like (real transform keys, field names,
stages, mode names) so that many examples get deep into validation instead of failing at once.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_catalogue import PROPERTIES, PROPERTY_EXAMPLES

from autodeploy import ConfigError, InferenceOptimizer, PluginHost, Stages
from autodeploy.cli import validate as validate_command
from autodeploy.optimizer import ConfigWarning

PROPERTY_SETTINGS = settings(
    max_examples=PROPERTY_EXAMPLES,  # the README's figure of random configs is built from it
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

FIELDS = [
    "stage", "enabled", "skip_on_error", "run_per_gm", "device", "backend", "strict", "debug_visualize_dir",
    "checkpoint_device", "cuda_graph_batch_sizes", "expect_mem_change", "requires_clean_graph", "devce",
]  # fmt: skip
WORDS = [stage.value for stage in Stages] + ["graph", "transformers", "meta", "cpu", "torch-simple", "grph", ""]


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_environment(environ={})


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory(prefix="reliability_properties_") as folder:
        yield Path(folder)


def keys(names: list[str]) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(names), st.text(max_size=8), st.integers(-3, 3), st.none(), st.booleans())


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(WORDS),
)


def values(field_names: list[str]) -> st.SearchStrategy:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys(field_names), inner, max_size=3)),
        max_leaves=10,
    )


def config_data(transform_keys: list[str]) -> st.SearchStrategy:
    entry = st.one_of(st.dictionaries(keys(FIELDS), values(FIELDS), max_size=5), values(FIELDS))
    top = {
        "transforms": st.one_of(st.dictionaries(keys(transform_keys), entry, max_size=4), values(FIELDS)),
        "mode": st.one_of(st.sampled_from(["graph", "transformers", "grph"]), values(FIELDS)),
        "model_kwargs": values(FIELDS),
        "max_seq_len": values(FIELDS),
        "model_factory": st.one_of(st.sampled_from(["AutoModelForCausalLM", "Nope"]), values(FIELDS)),
        "world_size": values(FIELDS),
    }
    return st.fixed_dictionaries({}, optional=top)


YAML_PIECES = [
    *"abc: -\n\t{}[],&*!|>'\"#%@`?~=.0123\\",
    "transforms:", "\n  build_model:", "\n    stage: ", "factory", "mode: graph", "\n    device: ", "&a ", "*a",
    "<<: ", "---\n", "...\n", "!!python/object/apply:os.system ", "!!binary ", "!!set ", "!custom ", "null", "true",
    "\n  ", "\n    ", "\ufeff", "\x00", "é", "2020-01-01", ".nan", "0x1F", "~",
]  # fmt: skip
yaml_text = st.lists(st.sampled_from(YAML_PIECES), max_size=40).map("".join)
override = st.lists(st.sampled_from([*YAML_PIECES, "transforms.build_model.", "=", "device", "model"]), max_size=8)
overrides_text = st.lists(override.map("".join), max_size=2)


def validate_in_all_ways(host: PluginHost, path: Path, overrides: list[str]) -> None:
    """The validate command (plain and --json) and the optimizer's constructor on one config file:
    anything but success or `ConfigError` propagates and fails the property."""
    for as_json in (False, True):
        args = argparse.Namespace(
            configs=[str(path)], overrides=overrides, mode=None, strict=False, allow_unavailable=None, json=as_json
        )
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                assert validate_command.run(args, host) == 0
            except ConfigError:
                pass
    try:
        InferenceOptimizer(None, path, host=host)
    except ConfigError:
        pass


def test_the_catalogue_counts_these_properties():
    tests = [name for name in globals() if name.startswith("test_random_")]
    assert len(tests) == len(PROPERTIES)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_config_data_validates_or_raises_config_error(host, scratch, data):
    config = data.draw(config_data(sorted(host.transforms())), label="config")
    path = scratch / "random_data.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        try:
            InferenceOptimizer(None, config, host=host)  # the data itself, through the Python API
        except ConfigError:
            pass
        validate_in_all_ways(host, path, [])  # the same data written as YAML


@PROPERTY_SETTINGS
@given(text=yaml_text, overrides=overrides_text)
def test_random_yaml_validates_or_raises_config_error(host, scratch, text, overrides):
    path = scratch / "random_text.yaml"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        validate_in_all_ways(host, path, overrides)
