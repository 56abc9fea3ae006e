"""Validating transform entries with each transform's own config class, and ordering them by stage."""

from __future__ import annotations

import logging
import warnings

import pytest
from tiny_pipeline_plugin import BuildTinyConfig, ScaleOutputConfig

from autodeploy import Stages, hookimpl
from autodeploy.errors import ConfigError, ConfigProblems, UnknownTransformError
from autodeploy.optimizer import ConfigWarning, build_pipeline_config, validate_transforms


def validated(host, tmp_path=None, yaml_text=None, *, strict=False, **layers):
    files = []
    if yaml_text is not None:
        path = tmp_path / "user.yaml"
        path.write_text(yaml_text)
        files.append(path)
    config = build_pipeline_config(host, files=files, **layers)
    return validate_transforms(config, host, strict=strict)


def test_entries_get_their_transform_config_class(host):
    entries = validated(host, mode="tiny")
    by_key = {entry.key: entry for entry in entries}
    assert isinstance(by_key["build_tiny"].config, BuildTinyConfig)
    assert isinstance(by_key["scale_output"].config, ScaleOutputConfig)
    assert by_key["scale_output"].config.factor == 3.0
    assert by_key["build_tiny"].config.stage is Stages.FACTORY
    assert by_key["build_tiny"].source == "mode tiny"


def test_unknown_key_lists_the_closest_keys_and_the_plugins(host, tmp_path):
    with pytest.raises(UnknownTransformError) as info:
        validated(host, tmp_path, "transforms:\n  relu_to_gleu:\n    stage: pattern_matcher\n")
    error = info.value
    assert error.source == str(tmp_path / "user.yaml")
    assert error.path == "transforms.relu_to_gleu"
    assert "did you mean 'relu_to_gelu'?" in error.message
    assert "tiny-test-plugin" in error.message


def test_missing_stage_names_source_and_path(host, tmp_path):
    with pytest.raises(ConfigError) as info:
        validated(host, tmp_path, "transforms:\n  relu_to_gelu:\n    enabled: true\n")
    assert info.value.source == str(tmp_path / "user.yaml")
    assert info.value.path == "transforms.relu_to_gelu.stage"
    assert "required field 'stage' is missing (one of: factory, export," in info.value.message


def test_wrong_type_says_expected_and_got(host, tmp_path):
    with pytest.raises(ConfigError) as info:
        validated(host, tmp_path, "transforms:\n  scale_output:\n    stage: post_load_fusion\n    factor: twice\n")
    assert info.value.path == "transforms.scale_output.factor"
    assert info.value.message == "expected a valid number, got 'twice' (string)"


def test_bad_stage_value_suggests_the_closest_stage(host):
    with pytest.raises(ConfigError) as info:
        validated(host, data={"transforms": {"relu_to_gelu": {"stage": "pattern_matching"}}})
    assert info.value.source == "<python>"
    assert info.value.path == "transforms.relu_to_gelu.stage"
    assert "expected one of factory, export," in info.value.message
    assert "got 'pattern_matching' (string); did you mean 'pattern_matcher'?" in info.value.message


def test_several_problems_are_all_reported(host):
    with pytest.raises(ConfigProblems) as info:
        validated(host, data={"transforms": {"scale_output": {"stage": "export", "factor": "x", "enabled": "maybe"}}})
    assert info.value.path == "transforms.scale_output.enabled"
    assert [problem.path for problem in info.value.problems] == [
        "transforms.scale_output.enabled",
        "transforms.scale_output.factor",
    ]
    assert "<python>: transforms.scale_output.factor: expected a valid number" in info.value.message


class SloppyModePlugin:
    """Contributes a mode whose entry has a wrong value: the mode is the layer to blame."""

    @hookimpl
    def autodeploy_register_modes(self, register):
        register("sloppy", {"relu_to_gelu": {"stage": "pattern_matcher", "run_per_gm": "sometimes"}})


def test_an_error_in_a_mode_preset_names_the_mode(host):
    host.register(SloppyModePlugin(), name="sloppy-mode-plugin")
    with pytest.raises(ConfigError) as info:
        validated(host, mode="sloppy")
    assert str(info.value).startswith("mode sloppy: transforms.relu_to_gelu.run_per_gm: expected a valid boolean")
    # the user can fix it in their own layer: then the blame (and the value) moves there
    with pytest.raises(ConfigError) as info:
        validated(host, mode="sloppy", overrides=["transforms.relu_to_gelu.run_per_gm=perhaps"])
    assert info.value.source == "--set transforms.relu_to_gelu.run_per_gm=perhaps"
    entries = validated(host, mode="sloppy", overrides=["transforms.relu_to_gelu.run_per_gm=true"])
    assert entries[0].config.run_per_gm is True


def test_a_missing_field_blames_the_layer_that_created_the_entry(host, tmp_path):
    with pytest.raises(ConfigError) as info:
        validated(host, tmp_path, "transforms:\n  explode:\n    enabled: false\n", mode="tiny")
    assert info.value.source == str(tmp_path / "user.yaml")


def test_an_entry_that_is_not_a_mapping_is_an_error(host, tmp_path):
    with pytest.raises(ConfigError) as info:
        validated(host, tmp_path, "transforms:\n  relu_to_gelu: pattern_matcher\n")
    assert info.value.path == "transforms.relu_to_gelu"
    assert info.value.source == str(tmp_path / "user.yaml")
    assert "must be a mapping" in info.value.message
    assert "got 'pattern_matcher' (string)" in info.value.message


def test_unknown_field_warns_naming_the_closest_field(host, tmp_path, caplog):
    text = "transforms:\n  scale_output:\n    stage: post_load_fusion\n    factor_value: 2.0\n"
    with caplog.at_level(logging.WARNING):
        with pytest.warns(ConfigWarning) as caught:
            entries = validated(host, tmp_path, text)
    assert len(caught) == 1 and not caplog.records  # one channel: the warning (the CLI logs it)
    message = str(caught[0].message)
    assert message.startswith(
        f"{tmp_path / 'user.yaml'}: transforms.scale_output.factor_value: unknown field 'factor_value'"
    )
    assert "did you mean 'factor'?" in message
    # the entry is kept (AutoDeploy allows extras), the unknown field has no effect
    assert entries[0].config.factor == 2.0 and entries[0].config.unknown_fields() == ["factor_value"]


def test_a_misspelt_field_is_an_error_even_when_not_strict(host, tmp_path):
    """One or two letters off a real field is a typo: the meant field would keep its default."""
    text = "transforms:\n  scale_output:\n    stage: post_load_fusion\n    factr: 3.0\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either: the error replaces it
        with pytest.raises(ConfigError) as info:
            validated(host, tmp_path, text)
    assert info.value.path == "transforms.scale_output.factr"
    assert info.value.source == str(tmp_path / "user.yaml")
    assert "unknown field 'factr' for transform 'scale_output'; did you mean 'factor'?" in info.value.message


def test_strict_mode_turns_the_unknown_field_warning_into_an_error(host, tmp_path):
    text = "transforms:\n  scale_output:\n    stage: post_load_fusion\n    label_text: x\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either: the error replaces it
        with pytest.raises(ConfigError) as info:
            validated(host, tmp_path, text, strict=True)
    assert info.value.path == "transforms.scale_output.label_text"
    assert "did you mean 'label'?" in info.value.message
    assert "strict" in info.value.message


def test_entries_are_ordered_by_stage_and_stable_within_a_stage(host):
    transforms = {
        "scale_output": {"stage": "post_load_fusion"},
        "explode": {"stage": "pattern_matcher", "enabled": False},
        "relu_to_gelu": {"stage": "pattern_matcher"},
        "build_tiny": {"stage": "factory", "run_per_gm": False},
    }
    keys = [entry.key for entry in validated(host, data={"transforms": transforms})]
    assert keys == ["build_tiny", "explode", "relu_to_gelu", "scale_output"]
    swapped = {key: transforms[key] for key in ["relu_to_gelu", "explode", "scale_output", "build_tiny"]}
    keys = [entry.key for entry in validated(host, data={"transforms": swapped})]
    assert keys == ["build_tiny", "relu_to_gelu", "explode", "scale_output"]
