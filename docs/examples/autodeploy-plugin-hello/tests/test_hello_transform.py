"""Tests of the hello plugin, with autodeploy's testing kit (enabled in conftest.py)."""

import autodeploy_hello.plugin
from autodeploy import TransformStatus
from autodeploy.testing import check_plugin

DISTRIBUTION = "autodeploy-plugin-hello"


def test_hello_records_greeting_and_size(register_plugin, run_transform, tiny_model):
    register_plugin(autodeploy_hello.plugin)
    mod, record = run_transform("hello", tiny_model, greeting="hi")

    assert record.status is TransformStatus.APPLIED
    assert record.num_matches == 1
    num_parameters = sum(parameter.numel() for parameter in tiny_model.parameters())
    assert mod.meta["hello"] == {"greeting": "hi", "num_parameters": num_parameters}


def test_hello_can_be_disabled(register_plugin, run_transform, tiny_model):
    register_plugin(autodeploy_hello.plugin)
    mod, record = run_transform("hello", tiny_model, enabled=False)

    assert record.status is TransformStatus.DISABLED
    assert "hello" not in mod.meta


def test_installed_distribution_keeps_the_plugin_contract():
    report = check_plugin(DISTRIBUTION)  # raises, listing every problem, if it does not
    assert report.transforms == ["hello"]
