"""build_model matches AutoDeploy's reference documentation: key, class and config names, bases,
docstrings, the `device` field, the JSON schema, and the modes that configure it."""

from __future__ import annotations

import pytest
from autodeploy_build_model import BuildModel, BuildModelConfig
from build_model_testkit import docstring_paragraphs, reference_json_schema, reference_paragraphs, reference_text
from pydantic import ValidationError

from autodeploy import BaseTransform, PluginHost, TransformConfig


@pytest.fixture(scope="module")
def text() -> str:
    return reference_text()


def test_json_schema_equals_the_reference(text: str) -> None:
    assert BuildModelConfig.model_json_schema() == reference_json_schema(text)


def test_names_and_bases(text: str, host: PluginHost) -> None:
    assert "Transform key: build_model" in text
    assert "class tensorrt_llm._torch.auto_deploy.transform.library.build_model.BuildModel(" in text
    assert BuildModel.__name__ == "BuildModel" and BuildModel.__bases__ == (BaseTransform,)
    assert BuildModelConfig.__name__ == "BuildModelConfig" and BuildModelConfig.__bases__ == (TransformConfig,)
    assert host.transform_class("build_model") is BuildModel
    assert BuildModel.get_config_class() is BuildModelConfig


def test_class_docstring_matches(text: str) -> None:
    expected = reference_paragraphs(text, "Bases: BaseTransform\n", "classmethod get_config_class()")
    assert docstring_paragraphs(BuildModel.__doc__) == expected
    assert len(expected) == 2


def test_get_config_class_docstring_matches(text: str) -> None:
    expected = reference_paragraphs(text, "Type[TransformConfig][source]#\n", "YAML configuration")
    assert docstring_paragraphs(BuildModel.get_config_class.__doc__) == expected


def test_config_docstring_field_and_defaults_match(text: str) -> None:
    assert docstring_paragraphs(BuildModelConfig.__doc__) == ["Configuration for the build model transform."]
    field = BuildModelConfig.model_fields["device"]
    assert "field device: str = 'meta'\n\nThe device to build the model on." in text
    assert field.default == "meta" and field.description == "The device to build the model on."
    assert BuildModelConfig.model_config.get("extra") == "allow"  # "Config: extra: str = allow"
    assert list(BuildModelConfig.model_fields)[-1] == "device"  # "Fields: device (str)", after the base's


def test_configured_modes_are_graph_with_the_reference_entry(text: str, host: PluginHost) -> None:
    section = text[text.index("Transform key: build_model") : text.index("Build And Load Factory Model")]
    assert "Configured modes: graph" in section
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
