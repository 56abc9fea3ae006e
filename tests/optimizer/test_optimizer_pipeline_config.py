"""Merging a pipeline config: mode preset <- Python data <- YAML files <- --set, errors naming their layer."""

from __future__ import annotations

import logging

import pytest

from autodeploy.errors import ConfigError
from autodeploy.optimizer import ConfigWarning, PipelineConfig, build_pipeline_config


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_merge_order_preset_then_data_then_files_then_overrides(host, tmp_path):
    # the `tiny` preset sets scale_output {factor: 3.0, label: from-mode}
    first = write(tmp_path, "first.yaml", "transforms:\n  scale_output:\n    factor: 5.0\n    enabled: false\n")
    second = write(tmp_path, "second.yaml", "transforms:\n  scale_output:\n    factor: 7.0\n")
    data = {"mode": "tiny", "transforms": {"scale_output": {"factor": 4.0, "label": "from-data"}}}

    def merged(**layers):
        return build_pipeline_config(host, data=data, **layers).transforms["scale_output"]

    assert merged() == {"stage": "post_load_fusion", "factor": 4.0, "label": "from-data"}
    assert merged(files=[first]) == {"stage": "post_load_fusion", "factor": 5.0, "label": "from-data", "enabled": False}
    assert merged(files=[first, second])["factor"] == 7.0
    assert merged(files=[second, first])["factor"] == 5.0
    final = merged(files=[first, second], overrides=["transforms.scale_output.factor=9"])
    assert final == {"stage": "post_load_fusion", "factor": 9, "label": "from-data", "enabled": False}


def test_each_value_knows_its_layer(host, tmp_path):
    path = write(tmp_path, "user.yaml", "transforms:\n  scale_output:\n    factor: 5.0\n")
    config = build_pipeline_config(
        host,
        data={"mode": "tiny", "transforms": {"scale_output": {"label": "x"}}},
        files=[path],
        overrides=["transforms.scale_output.enabled=false"],
    )
    assert config.source_of("transforms.scale_output.stage") == "mode tiny"
    assert config.source_of("transforms.scale_output.label") == "<python>"
    assert config.source_of("transforms.scale_output.factor") == str(path)
    assert config.source_of("transforms.scale_output.enabled") == "--set transforms.scale_output.enabled=false"
    assert config.sources_under("transforms.scale_output") == [
        "mode tiny",
        "<python>",
        str(path),
        "--set transforms.scale_output.enabled=false",
    ]
    assert config.sources_under("transforms.relu_to_gelu") == ["mode tiny"]


def test_no_mode_means_exactly_the_given_transforms(host):
    config = build_pipeline_config(host, data={"transforms": {"relu_to_gelu": {"stage": "pattern_matcher"}}})
    assert config.mode is None
    assert list(config.transforms) == ["relu_to_gelu"]


def test_mode_comes_from_the_last_layer_or_the_argument(host, tmp_path):
    path = write(tmp_path, "m.yaml", "mode: tiny\n")
    assert set(build_pipeline_config(host, files=[path]).transforms) == {"build_tiny", "relu_to_gelu", "scale_output"}
    assert build_pipeline_config(host, files=[path], overrides=["mode=null"]).mode is None
    with pytest.warns(ConfigWarning, match="--mode tiny overrides `mode: nonexistent` of <python>"):
        config = build_pipeline_config(host, data={"mode": "nonexistent"}, mode="tiny")  # the argument wins
    assert config.mode == "tiny"
    assert "build_tiny" in config.transforms


def test_unknown_mode_names_where_it_was_set_and_the_closest(host, tmp_path):
    path = write(tmp_path, "m.yaml", "mode: tinny\n")
    with pytest.raises(ConfigError) as info:
        build_pipeline_config(host, files=[path])
    assert info.value.source == str(path)
    assert info.value.path == "mode"
    assert "unknown mode 'tinny' (did you mean 'tiny'?)" in info.value.message
    with pytest.raises(ConfigError, match="^--set mode=graph: mode: unknown mode 'graph'"):
        build_pipeline_config(host, overrides=["mode=graph"])


def test_preset_entries_come_first_and_new_entries_after(host):
    config = build_pipeline_config(host, data={"mode": "tiny", "transforms": {"explode": {"stage": "export"}}})
    assert list(config.transforms) == ["build_tiny", "relu_to_gelu", "scale_output", "explode"]


def test_top_level_settings_have_autodeploy_defaults(host):
    config = build_pipeline_config(host, data={})
    assert config.model_factory == "AutoModelForCausalLM"
    assert (config.max_seq_len, config.max_batch_size, config.world_size) == (512, 8, 1)
    assert config.model_kwargs == {}
    assert config.skip_loading_weights is False


def test_autodeploy_top_level_keys_are_read_and_the_unused_ones_logged_once(host, tmp_path, caplog):
    path = write(
        tmp_path,
        "autodeploy.yaml",
        "model: /models/llama\nruntime: demollm\ncompile_backend: torch-simple\nattn_backend: flashinfer\n"
        "model_kwargs:\n  num_hidden_layers: 2\n",
    )
    with caplog.at_level(logging.INFO, logger="autodeploy.optimizer"):
        config = build_pipeline_config(host, files=[path])
    assert config.model == "/models/llama"
    assert config.model_kwargs == {"num_hidden_layers": 2}
    assert (config.compile_backend, config.attn_backend) == ("torch-simple", "flashinfer")
    assert config.unused_keys() == ["runtime"]
    assert config.model_extra["runtime"] == "demollm"
    assert caplog.text.count("top-level settings with no effect here: runtime") == 1


def test_world_size_without_a_sharding_transform_names_torchrun(host, tmp_path):
    path = write(tmp_path, "autodeploy.yaml", "model: /models/llama\nworld_size: 2\n")
    with pytest.raises(ConfigError, match="no installed plugin provides a sharding transform") as info:
        build_pipeline_config(host, files=[path])
    assert (info.value.source, info.value.path) == (str(path), "world_size")
    assert "torchrun --nproc-per-node 2" in info.value.message


def test_a_transform_key_at_the_top_level_is_an_error(host, tmp_path):
    path = write(tmp_path, "flat.yaml", "mode: tiny\nscale_output:\n  factor: 2\n")
    with pytest.raises(ConfigError) as info:
        build_pipeline_config(host, files=[path])
    assert info.value.source == str(path)
    assert info.value.path == "scale_output"
    assert "go under `transforms:`" in info.value.message


def test_top_level_type_errors_name_the_layer_and_the_field(host, tmp_path):
    path = write(tmp_path, "bad.yaml", "max_seq_len: long\n")
    with pytest.raises(ConfigError) as info:
        build_pipeline_config(host, files=[path])
    assert info.value.source == str(path)
    assert info.value.path == "max_seq_len"
    assert "expected a valid integer" in info.value.message
    assert "got 'long' (string)" in info.value.message
    with pytest.raises(ConfigError, match=r"^--set max_batch_size=0: max_batch_size: .*greater than or equal to 1"):
        build_pipeline_config(host, overrides=["max_batch_size=0"])


def test_transforms_must_be_a_mapping(host, tmp_path):
    path = write(tmp_path, "bad.yaml", "transforms:\n  - build_tiny\n")
    with pytest.raises(ConfigError) as info:
        build_pipeline_config(host, files=[path])
    assert (info.value.source, info.value.path) == (str(path), "transforms")
    assert "expected a valid dictionary" in info.value.message


def test_flat_python_layout_is_accepted(host):
    config = build_pipeline_config(host, data={"relu_to_gelu": {"stage": "pattern_matcher"}})
    assert config.transforms == {"relu_to_gelu": {"stage": "pattern_matcher"}}


def test_data_that_is_not_a_mapping_is_an_error(host):
    with pytest.raises(ConfigError, match="^<python>: config data must be a mapping, got list"):
        build_pipeline_config(host, data=["build_tiny"])


def test_file_errors_propagate_with_the_file_name(host, tmp_path):
    path = write(tmp_path, "broken.yaml", "transforms: [\n")
    with pytest.raises(ConfigError, match=f"^{path}: line 2, column 1"):
        build_pipeline_config(host, files=[path])


def test_paths_are_accepted_for_model_and_tokenizer(tmp_path):
    config = PipelineConfig(model=tmp_path, tokenizer=tmp_path)
    assert config.model == str(tmp_path)
    assert config.tokenizer == str(tmp_path)
