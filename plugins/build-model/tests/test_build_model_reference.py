"""build_model matches AutoDeploy's reference documentation: key, class and config names, bases,
docstrings, the `device` field, the JSON schema, and the modes that configure it."""

from __future__ import annotations

from typing import Any

import pytest
from autodeploy_build_model import BuildModel, BuildModelConfig
from build_model_testkit import docstring_paragraphs, reference
from pydantic import ValidationError

from autodeploy import BaseTransform, PluginHost, TransformConfig


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return reference()


def test_json_schema_equals_the_reference(ref: dict[str, Any]) -> None:
    assert BuildModelConfig.model_json_schema() == ref["json_schema"]


def test_names_and_bases(ref: dict[str, Any], host: PluginHost) -> None:
    assert ref["transform_key"] == "build_model"
    assert ref["class"] == "tensorrt_llm._torch.auto_deploy.transform.library.build_model.BuildModel"
    assert ref["class"].rsplit(".", 1)[1] == BuildModel.__name__ and ref["bases"] == "BaseTransform"
    assert BuildModel.__bases__ == (BaseTransform,)
    assert ref["config_class"].rsplit(".", 1)[1] == BuildModelConfig.__name__ == "BuildModelConfig"
    assert BuildModelConfig.__bases__ == (TransformConfig,)
    assert host.transform_class("build_model") is BuildModel
    assert BuildModel.get_config_class() is BuildModelConfig


def test_class_docstring_matches(ref: dict[str, Any]) -> None:
    assert docstring_paragraphs(BuildModel.__doc__) == ref["docstring"]
    assert len(ref["docstring"]) == 2


def test_get_config_class_docstring_matches(ref: dict[str, Any]) -> None:
    assert docstring_paragraphs(BuildModel.get_config_class.__doc__) == ref["get_config_class_docstring"]


def test_config_docstring_field_and_defaults_match(ref: dict[str, Any]) -> None:
    assert docstring_paragraphs(BuildModelConfig.__doc__) == ref["config_docstring"]
    assert ref["fields"] == {
        "device": {"type": "str", "default": "'meta'", "description": "The device to build the model on."}
    }
    field = BuildModelConfig.model_fields["device"]
    assert field.default == "meta" and field.description == "The device to build the model on."
    assert BuildModelConfig.model_config.get("extra") == ref["config_extra"] == "allow"
    assert list(BuildModelConfig.model_fields)[-1] == "device"  # "Fields: device (str)", after the base's


def test_configured_modes_are_graph_with_the_reference_entry(ref: dict[str, Any], host: PluginHost) -> None:
    assert ref["configured_modes"] == ["graph"]
    assert host.modes_for("build_model") == ["graph"]
    assert host.mode("graph")["build_model"] == {
        "stage": "factory",
        "run_per_gm": False,
        "device": "meta",
        "requires_clean_graph": False,
    }


def test_config_validation() -> None:
    config = BuildModelConfig(stage="factory")
    assert config.device == "meta" and config.run_per_gm is True  # TransformConfig's defaults, untouched
    assert BuildModelConfig(stage="factory", device="cuda:1").device == "cuda:1"
    with pytest.raises(ValidationError, match="not a torch device string"):
        BuildModelConfig(stage="factory", device="GPU 0")
    with pytest.raises(ValidationError, match="stage"):
        BuildModelConfig(device="meta")
