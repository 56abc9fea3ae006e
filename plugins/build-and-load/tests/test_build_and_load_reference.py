"""build_and_load_factory_model matches AutoDeploy's reference documentation: key, class name, base
(BuildModel), docstring, config class and schema, and the mode that configures it."""

from __future__ import annotations

import pytest
from autodeploy_build_and_load import BuildAndLoadFactoryModel
from autodeploy_build_model import BuildModel, BuildModelConfig
from build_and_load_testkit import (
    docstring_paragraphs,
    reference_json_schema_after,
    reference_paragraphs,
    reference_text,
)

from autodeploy import PluginHost

SECTION = "Build And Load Factory Model#"


@pytest.fixture(scope="module")
def text() -> str:
    return reference_text()


def test_names_base_and_config_class(text: str, host: PluginHost) -> None:
    section = text[text.index(SECTION) :]
    assert "Transform key: build_and_load_factory_model" in section
    assert "build_model.BuildAndLoadFactoryModel(" in section and "Bases: BuildModel" in section
    assert BuildAndLoadFactoryModel.__name__ == "BuildAndLoadFactoryModel"
    assert BuildAndLoadFactoryModel.__bases__ == (BuildModel,)
    assert BuildAndLoadFactoryModel.get_config_class() is BuildModelConfig
    assert host.transform_class("build_and_load_factory_model") is BuildAndLoadFactoryModel


def test_docstring_matches(text: str) -> None:
    expected = reference_paragraphs(text, "Bases: BuildModel\n", "YAML configuration")
    assert len(expected) == 3
    assert docstring_paragraphs(BuildAndLoadFactoryModel.__doc__) == expected


def test_config_schema_matches_its_section(text: str) -> None:
    assert BuildAndLoadFactoryModel.get_config_class().model_json_schema() == reference_json_schema_after(text, SECTION)


def test_configured_modes_are_transformers_with_the_reference_entry(text: str, host: PluginHost) -> None:
    assert "Configured modes: transformers" in text[text.index(SECTION) :]
    assert host.modes_for("build_and_load_factory_model") == ["transformers"]
    assert host.mode("transformers")["build_and_load_factory_model"] == {
        "stage": "factory",
        "run_per_gm": False,
        "requires_clean_graph": False,
        "expect_mem_change": True,
    }
