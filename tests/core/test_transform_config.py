"""TransformConfig, TransformInfo and SharedConfig behave as AutoDeploy's do."""

import pydantic
import pytest

from autodeploy import SharedConfig, Stages, TransformConfig, TransformInfo

REFERENCE_FIELDS = {
    "stage": None,
    "run_per_gm": True,
    "enabled": True,
    "skip_on_error": False,
    "run_graph_cleanup": True,
    "run_shape_prop": False,
    "requires_clean_graph": True,
    "requires_shape_prop": False,
    "debug_visualize_dir": None,
    "expect_mem_change": False,
}


def test_fields_and_defaults_match_reference():
    fields = TransformConfig.model_fields
    assert list(fields) == list(REFERENCE_FIELDS)
    assert fields["stage"].is_required()
    for name, default in REFERENCE_FIELDS.items():
        if name != "stage":
            assert fields[name].default == default, name


def test_stage_is_parsed_from_string_and_required():
    assert TransformConfig(stage="export").stage is Stages.EXPORT
    with pytest.raises(pydantic.ValidationError) as excinfo:
        TransformConfig()
    assert "stage" in str(excinfo.value)


def test_bad_stage_value_names_valid_stages():
    with pytest.raises(pydantic.ValidationError) as excinfo:
        TransformConfig(stage="exprot")
    assert "factory" in str(excinfo.value) and "compile" in str(excinfo.value)


def test_extra_keys_are_kept_and_reported():
    config = TransformConfig(stage="factory", devcie="cpu")
    assert config.unknown_fields() == ["devcie"]
    assert TransformConfig.model_json_schema()["additionalProperties"] is True


def test_subclass_revalidates_with_its_own_fields():
    class DeviceConfig(TransformConfig):
        device: str = "meta"

    config = DeviceConfig.model_validate(TransformConfig(stage="factory", device="cpu").model_dump())
    assert config.device == "cpu"
    assert config.unknown_fields() == []


def test_transform_info_is_frozen():
    info = TransformInfo(skipped=False, num_matches=2)
    with pytest.raises(pydantic.ValidationError):
        info.num_matches = 3


def test_transform_info_merge_operators():
    clean = TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)
    dirty = TransformInfo(skipped=True, num_matches=2, is_clean=False, has_valid_shapes=False)
    optimistic = clean | dirty
    conservative = clean & dirty
    assert optimistic == TransformInfo(skipped=False, num_matches=3, is_clean=True, has_valid_shapes=True)
    assert conservative == TransformInfo(skipped=False, num_matches=3, is_clean=False, has_valid_shapes=False)
    assert (dirty & dirty).skipped is True


def test_from_last_info_carries_graph_state():
    last = TransformInfo(skipped=False, num_matches=5, is_clean=True, has_valid_shapes=False)
    skipped = TransformInfo.from_last_info(last)
    assert skipped == TransformInfo(skipped=True, num_matches=0, is_clean=True, has_valid_shapes=False)


def test_shared_config_defaults_and_extras():
    shared = SharedConfig(my_plugin_setting=3)
    assert (shared.local_rank, shared.world_size) == (0, 1)
    assert shared.extra("my_plugin_setting") == 3 and shared.extra("unset", 5) == 5
    with pytest.raises(pydantic.ValidationError):
        SharedConfig(world_size=0)
