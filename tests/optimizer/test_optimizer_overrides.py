"""``--set key.path=value``: YAML values, and paths that must land on something that exists."""

from __future__ import annotations

import pytest

from autodeploy.errors import ConfigError
from autodeploy.optimizer import parse_override
from autodeploy.optimizer.overrides import apply_override

CONFIG = {
    "model": "/models/tiny",
    "transforms": {
        "build_model": {"stage": "factory", "device": "meta", "run_per_gm": False},
        "export_to_gm": {"stage": "export", "options": {"strict": False}},
    },
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a=true", True),
        ("a=3", 3),
        ("a=2.5", 2.5),
        ("a=[1,2]", [1, 2]),
        ("a=null", None),
        ("a={x: 1, y: [a]}", {"x": 1, "y": ["a"]}),
        ("a=cpu", "cpu"),
        ("a='3'", "3"),
        ("a=x=y", "x=y"),
    ],
)
def test_values_are_parsed_as_yaml(text, value):
    assert parse_override(text).value == value


def test_path_is_split_on_dots():
    override = parse_override("transforms.build_model.device=cpu")
    assert override.path == ("transforms", "build_model", "device")
    assert override.source == "--set transforms.build_model.device=cpu"


@pytest.mark.parametrize("text", ["transforms.build_model.device", "=3", "a..b=1", "a.=1"])
def test_malformed_overrides_are_errors_naming_the_override(text):
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert info.value.source == f"--set {text}"


def test_bad_yaml_value_names_the_override():
    with pytest.raises(ConfigError, match=r"^--set a=\[1, 2: .*invalid YAML"):
        parse_override("a=[1, 2")


def test_python_tags_are_refused_in_values():
    with pytest.raises(ConfigError, match="refused"):
        parse_override("a=!!python/object/apply:os.getcwd []")


def test_changing_a_field_keeps_the_rest_of_the_entry():
    result = apply_override(CONFIG, parse_override("transforms.build_model.device=cpu"))
    assert result["transforms"]["build_model"] == {"stage": "factory", "device": "cpu", "run_per_gm": False}
    assert result["transforms"]["export_to_gm"] == CONFIG["transforms"]["export_to_gm"]
    assert CONFIG["transforms"]["build_model"]["device"] == "meta"  # the input is not changed


def test_adding_a_new_field_to_an_existing_entry_is_allowed():
    result = apply_override(CONFIG, parse_override("transforms.build_model.skip_on_error=true"))
    assert result["transforms"]["build_model"]["skip_on_error"] is True


def test_a_mapping_value_is_deep_merged():
    result = apply_override(CONFIG, parse_override("transforms.export_to_gm={enabled: false}"))
    assert result["transforms"]["export_to_gm"] == {"stage": "export", "options": {"strict": False}, "enabled": False}


def test_unknown_transform_entry_is_an_error_naming_the_closest_key():
    with pytest.raises(ConfigError) as info:
        apply_override(CONFIG, parse_override("transforms.buld_model.device=cpu"))
    assert info.value.source == "--set transforms.buld_model.device=cpu"
    assert info.value.path == "transforms.buld_model.device"
    assert "no transform entry 'buld_model'" in info.value.message
    assert "did you mean 'build_model'?" in info.value.message


def test_a_new_transform_entry_cannot_be_added():
    with pytest.raises(ConfigError, match="no transform entry 'fuse_gemms'"):
        apply_override(CONFIG, parse_override("transforms.fuse_gemms={stage: post_load_fusion}"))


def test_transforms_override_on_a_config_without_transforms_is_an_error():
    with pytest.raises(ConfigError, match="no transform entry 'build_model'"):
        apply_override({"model": "x"}, parse_override("transforms.build_model.device=cpu"))


def test_missing_intermediate_key_inside_an_entry_names_the_closest():
    with pytest.raises(ConfigError) as info:
        apply_override(CONFIG, parse_override("transforms.export_to_gm.option.strict=true"))
    assert info.value.path == "transforms.export_to_gm.option.strict"
    assert "'transforms.export_to_gm' has no key 'option'" in info.value.message
    assert "did you mean 'options'?" in info.value.message


def test_a_path_through_a_non_mapping_is_an_error():
    with pytest.raises(ConfigError) as info:
        apply_override(CONFIG, parse_override("transforms.build_model.device.index=0"))
    assert "'transforms.build_model.device' is a string ('meta'), not a mapping" in info.value.message
    with pytest.raises(ConfigError, match="'model' is a string"):
        apply_override(CONFIG, parse_override("model.revision=main"))


def test_outside_transforms_missing_mappings_are_created():
    result = apply_override(CONFIG, parse_override("model_kwargs.num_hidden_layers=2"))
    assert result["model_kwargs"] == {"num_hidden_layers": 2}
    assert apply_override(CONFIG, parse_override("max_seq_len=64"))["max_seq_len"] == 64
