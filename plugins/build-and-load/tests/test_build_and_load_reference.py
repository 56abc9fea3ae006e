"""build_and_load_factory_model matches AutoDeploy's reference documentation: key, class name, base
(BuildModel), docstring, config class and schema, and the mode that configures it."""

from __future__ import annotations

from typing import Any

import pytest
from autodeploy_build_and_load import BuildAndLoadFactoryModel
from autodeploy_build_model import BuildModel, BuildModelConfig
from build_and_load_testkit import docstring_paragraphs, reference

from autodeploy import PluginHost


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return reference()


def test_names_base_and_config_class(ref: dict[str, Any], host: PluginHost) -> None:
    assert ref["transform_key"] == "build_and_load_factory_model"
    assert ref["class"].endswith("build_model.BuildAndLoadFactoryModel") and ref["bases"] == "BuildModel"
    assert BuildAndLoadFactoryModel.__name__ == "BuildAndLoadFactoryModel"
    assert BuildAndLoadFactoryModel.__bases__ == (BuildModel,)
    assert ref["config_class"].endswith(".BuildModelConfig")
    assert BuildAndLoadFactoryModel.get_config_class() is BuildModelConfig
    assert host.transform_class("build_and_load_factory_model") is BuildAndLoadFactoryModel


def test_docstring_matches(ref: dict[str, Any]) -> None:
    assert len(ref["docstring"]) == 3
    assert docstring_paragraphs(BuildAndLoadFactoryModel.__doc__) == ref["docstring"]


def test_config_schema_matches_its_section(ref: dict[str, Any]) -> None:
    assert BuildAndLoadFactoryModel.get_config_class().model_json_schema() == ref["json_schema"]


def test_configured_modes_are_transformers_with_the_reference_entry(ref: dict[str, Any], host: PluginHost) -> None:
    assert ref["configured_modes"] == ["transformers"]
    assert host.modes_for("build_and_load_factory_model") == ["transformers"]
    assert host.mode("transformers")["build_and_load_factory_model"] == {
        "stage": "factory",
        "run_per_gm": False,
        "requires_clean_graph": False,
        "expect_mem_change": True,
    }
