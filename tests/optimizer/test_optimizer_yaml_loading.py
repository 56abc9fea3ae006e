"""Loading YAML config files: safe loading only, and errors that name the file, line and column."""

from __future__ import annotations

import pytest

from autodeploy.errors import ConfigError
from autodeploy.optimizer import MAX_CONFIG_BYTES, load_config_file


def write(tmp_path, text: str, name: str = "config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_a_mapping(tmp_path):
    path = write(tmp_path, "mode: graph\ntransforms:\n  build_model:\n    stage: factory\n    device: meta\n")
    assert load_config_file(path) == {
        "mode": "graph",
        "transforms": {"build_model": {"stage": "factory", "device": "meta"}},
    }


def test_syntax_error_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "transforms:\n  build_model:\n    stage: factory\n   device: meta\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    message = str(info.value)
    assert info.value.source == str(path)
    assert message.startswith(f"{path}: line 4, column 4: invalid YAML")


def test_python_object_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path, f"transforms: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert "python/object/apply:os.system" in str(info.value)
    assert "refused" in str(info.value)
    assert "line 1, column 13" in str(info.value)
    assert not marker.exists()


def test_unknown_custom_tag_is_an_error(tmp_path):
    path = write(tmp_path, "model: !checkpoint /models/llama\n")
    with pytest.raises(ConfigError, match=r"unknown YAML tag '!checkpoint'"):
        load_config_file(path)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_an_error_naming_the_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="the file is empty") as info:
        load_config_file(path)
    assert info.value.source == str(path)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "string"), ("3\n", "int")])
def test_top_level_must_be_a_mapping(tmp_path, text, kind):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=f"must be a mapping.*got a {kind}") as info:
        load_config_file(path)
    assert str(info.value).startswith(str(path))


def test_non_name_top_level_key_is_an_error(tmp_path):
    path = write(tmp_path, "1: one\n")
    with pytest.raises(ConfigError, match="top-level keys must be names, got 1"):
        load_config_file(path)


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    path = write(tmp_path, "transforms:\n  build_model:\n    stage: factory\n  build_model:\n    device: cpu\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert "line 4, column 3" in str(info.value)
    assert "duplicate key 'build_model' (first defined at line 2)" in str(info.value)


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    path = write(
        tmp_path, "base: &base {stage: export, enabled: true}\ntransforms:\n  t:\n    <<: *base\n    enabled: false\n"
    )
    assert load_config_file(path)["transforms"]["t"] == {"stage": "export", "enabled": False}


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as stream:  # sparse: no real disk use
        stream.truncate(MAX_CONFIG_BYTES + 1)
    with pytest.raises(ConfigError, match="config files are limited to 128 KiB") as info:
        load_config_file(path)
    assert info.value.source == str(path)


def test_parsing_stops_at_the_value_limit_whatever_the_text_size():
    """A `--set` value has no file size: the parser counts values as they come and stops early
    (the mapping, its key and the list are the first three; item 9998 is one too many)."""
    from autodeploy.optimizer.yaml_loading import MAX_NODES, parse_yaml

    assert parse_yaml("x: [" + ",".join(["0"] * (MAX_NODES - 10)) + "]", source="--set x")["x"][-1] == 0
    with pytest.raises(ConfigError) as info:
        parse_yaml("x: [" + ",".join(["0"] * (MAX_NODES + 10)) + "]", source="--set x")
    message = str(info.value)
    assert message.startswith(f"--set x: line 1, column {2 * (MAX_NODES - 3) + 5}: the text holds more than")
    assert "alias" not in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such file") as info:
        load_config_file(tmp_path / "absent.yaml")
    assert info.value.source == str(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config_file(tmp_path)


def test_undecodable_bytes_are_an_error(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"mode: \xff\xfe\x00graph\n")
    with pytest.raises(ConfigError, match="not readable as text") as info:
        load_config_file(path)
    assert info.value.source == str(path)
