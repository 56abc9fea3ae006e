"""Stages: ordered, comparable, built from their value, with a helpful error for a bad value."""

import pytest

from autodeploy import Stages

EXPECTED_ORDER = [
    "factory",
    "export",
    "post_export",
    "pattern_matcher",
    "sharding",
    "weight_load",
    "post_load_fusion",
    "cache_init",
    "visualize",
    "compile",
]


def test_stage_values_are_in_autodeploy_order():
    assert [stage.value for stage in Stages] == EXPECTED_ORDER


def test_stages_compare_by_pipeline_position():
    assert Stages.FACTORY < Stages.COMPILE
    assert Stages.WEIGHT_LOAD > Stages.SHARDING
    assert Stages.EXPORT <= Stages.EXPORT
    assert sorted([Stages.COMPILE, Stages.FACTORY, Stages.EXPORT]) == [Stages.FACTORY, Stages.EXPORT, Stages.COMPILE]


def test_stage_from_value():
    assert Stages("export") is Stages.EXPORT
    assert str(Stages.POST_EXPORT) == "post_export"


def test_bad_stage_lists_valid_ones():
    with pytest.raises(ValueError) as excinfo:
        Stages("exprot")
    message = str(excinfo.value)
    assert "'exprot'" in message
    for value in EXPECTED_ORDER:
        assert value in message


def test_comparing_with_non_stage_is_a_type_error():
    with pytest.raises(TypeError):
        _ = Stages.FACTORY < "compile"
