"""AutoDeploy-layout YAML files (mode presets, per-model overrides, the experiment layout), read by the
installed plugins: each validates, or fails naming every problem at once; top-level options change
the resolved pipeline; unknown top-level keys warn, and fail under strict."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
import yaml

from autodeploy import ConfigError, ConfigProblems, PluginHost
from autodeploy.catalogue import autodeploy_catalogue
from autodeploy.optimizer import ConfigWarning, InferenceOptimizer, build_sequence_interface, resolve_pipeline
from autodeploy.optimizer.top_level import autodeploy_batch_sizes

CONFIGS = Path(__file__).parent / "configs"
UNAVAILABLE = "no installed plugin provides it"


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_environment(environ={})  # the installed plugins, whatever the shell's AUTODEPLOY_*


def unavailable_in(host: PluginHost, name: str) -> set[str]:
    """The enabled entries of a fixture that AutoDeploy has and no installed plugin provides."""
    entries = yaml.safe_load((CONFIGS / name).read_text())["transforms"]
    return {
        key
        for key, entry in entries.items()
        if key in autodeploy_catalogue() and key not in host.transforms() and entry.get("enabled", True)
    }


def problem_keys(error: ConfigError) -> set[str]:
    return {problem.path.split(".")[1] for problem in error.problems if UNAVAILABLE in str(problem)}


@pytest.mark.parametrize(("name", "mode"), [("default.yaml", "graph")])
def test_a_preset_names_every_unavailable_transform_at_once(host, name, mode):
    expected = unavailable_in(host, name)
    assert expected, "the fixture names AutoDeploy transforms that no installed plugin provides"
    with pytest.raises(ConfigError) as info:
        resolve_pipeline(host, files=[CONFIGS / name], mode=mode)
    assert problem_keys(info.value) == expected
    message = str(info.value)
    assert "did you mean" not in message  # AutoDeploy's keys are not typos
    assert message.count("loaded plugins:") <= 1
    for key in expected:
        known = autodeploy_catalogue().get(key)
        said = f"AutoDeploy transform `{key}` ({known.stage}): {UNAVAILABLE}"
        assert said + ("; it needs CUDA kernels" if known.cuda else "") in message


@pytest.mark.parametrize(("name", "mode"), [("default.yaml", "graph")])
def test_allow_unavailable_skips_them_with_one_warning_and_strict_refuses(host, name, mode, caplog):
    expected = unavailable_in(host, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config, entries = resolve_pipeline(host, files=[CONFIGS / name], mode=mode, allow_unavailable=True)
    skipped = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning) and "skipping" in str(w.message)]
    assert len(skipped) == 1
    assert all(f"{key} (" in skipped[0] for key in expected)
    assert not expected & {entry.key for entry in entries}
    # the same through the config's own field
    with pytest.warns(ConfigWarning, match="skipping"):
        _, same = resolve_pipeline(host, files=[CONFIGS / name], mode=mode, overrides=["allow_unavailable=true"])
    assert [entry.key for entry in same] == [entry.key for entry in entries]
    with pytest.raises(ConfigError) as info:
        resolve_pipeline(host, files=[CONFIGS / name], mode=mode, allow_unavailable=True, strict=True)
    assert problem_keys(info.value) == expected


def test_an_attention_backend_that_is_not_installed_is_named_and_falls_back_when_allowed(host):
    # AutoDeploy's transformers.yaml asks for flashinfer; only `torch` is installed here
    path = CONFIGS / "transformers.yaml"
    with pytest.raises(ConfigError) as info:
        resolve_pipeline(host, files=[path], mode="transformers")
    message = str(info.value)
    assert "transforms.transformers_replace_cached_attn.backend" in message and str(path) in message
    assert "'flashinfer' is not installed (installed for transformers_replace_cached_attn: torch)" in message
    with pytest.warns(ConfigWarning, match="'flashinfer' is not installed .*using 'torch' instead"):
        config, entries = resolve_pipeline(host, files=[path], mode="transformers", allow_unavailable=True)
    assert config.transforms["transformers_replace_cached_attn"]["backend"] == "torch"
    (entry,) = [entry for entry in entries if entry.key == "transformers_replace_cached_attn"]
    assert entry.config.backend == "torch"
    with pytest.raises(ConfigError, match="flashinfer"):
        resolve_pipeline(host, files=[path], mode="transformers", allow_unavailable=True, strict=True)
    # the top-level shortcut wins over the entry, as AutoDeploy's attn_backend does
    config, _ = resolve_pipeline(host, files=[path], mode="transformers", overrides=["attn_backend=torch"])
    assert config.transforms["transformers_replace_cached_attn"]["backend"] == "torch"


def test_an_override_file_validates_exactly_as_it_runs(host):
    path = CONFIGS / "compile_override.yaml"
    config, entries = resolve_pipeline(host, files=[path])
    assert config.mode == "graph"  # no mode anywhere: the default, as for `run`
    assert config.transforms["compile_model"]["backend"] == "torch-compile"
    optimizer = InferenceOptimizer(None, path, host=host)
    assert optimizer.config.mode == "graph"
    assert [(e.key, e.config) for e in optimizer.entries] == [(e.key, e.config) for e in entries]


def test_the_graph_preset_follows_autodeploys_order(host):
    config, _ = resolve_pipeline(host, files=[CONFIGS / "compile_override.yaml"])
    order = autodeploy_catalogue().presets["graph"]
    ours = [key for key in config.transforms if key in order]
    assert ours == sorted(ours, key=order.index)
    assert "cleanup_input_constraints" in ours


def test_top_level_shortcuts_change_the_resolved_pipeline(host, caplog):
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="autodeploy.optimizer"):
        warnings.simplefilter("error", ConfigWarning)  # nothing here is unknown
        config, entries = resolve_pipeline(host, files=[CONFIGS / "llama_shortcuts.yaml"])
    compile_entry = config.transforms["compile_model"]
    assert compile_entry["backend"] == "torch-cudagraph"
    assert compile_entry["cuda_graph_batch_sizes"] == [8, 4, 2, 1]  # clamped to max_batch_size 16, largest first
    (validated,) = [entry for entry in entries if entry.key == "compile_model"]
    assert validated.config.cuda_graph_batch_sizes == [8, 4, 2, 1]
    assert config.source_of("transforms.compile_model.backend") == str(CONFIGS / "llama_shortcuts.yaml")
    cm = build_sequence_interface(config)
    assert (cm.max_seq_len, cm.max_batch_size, cm.max_num_tokens, cm.token_budget) == (256, 16, 1024, 1024)
    assert config.skip_loading_weights is True and config.model_kwargs == {"num_hidden_layers": 2}
    # what has no effect here is said once, at info level
    assert caplog.text.count("has no effect on cpu") == 1
    (no_effect,) = [r.message for r in caplog.records if r.message.startswith("top-level settings with no effect")]
    assert "runtime" in no_effect and "kv_cache_config" in no_effect
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_experiment_layout_is_lifted(host, caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # prompt, benchmark, dry_run are known: no warning
        with caplog.at_level(logging.INFO, logger="autodeploy.optimizer"):
            config, _ = resolve_pipeline(host, files=[CONFIGS / "experiment.yaml"])
    assert config.model == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert (config.max_seq_len, config.max_batch_size) == (128, 4)
    compile_entry = config.transforms["compile_model"]
    assert compile_entry["backend"] == "torch-simple"
    assert compile_entry["cuda_graph_batch_sizes"] == [4, 2, 1]  # from cuda_graph_config.batch_sizes
    assert compile_entry["warmup"] is False
    assert "prompt" in caplog.text and "dry_run" in caplog.text
    override, _ = resolve_pipeline(host, files=[CONFIGS / "experiment.yaml"], overrides=["args.max_seq_len=64"])
    assert override.max_seq_len == 64


def test_every_problem_is_named_at_once_with_its_file_and_path(host):
    path = CONFIGS / "many_problems.yaml"
    with pytest.warns(ConfigWarning, match="max_seq_lenght"):
        with pytest.raises(ConfigProblems) as info:
            resolve_pipeline(host, files=[path])
    error = info.value
    assert {problem.path for problem in error.problems} == {
        "max_batch_size",
        "transforms.buld_model",
        "transforms.fuse_fp8_moe",
        "transforms.export_to_gm.strikt",
        "transforms.compile_model.backend",
        "transforms.build_and_load_factory_model.stage",
    }
    assert all(getattr(problem, "source", None) == str(path) for problem in error.problems)
    headings = [heading for heading, _ in error.grouped]
    assert headings[0].startswith("unknown transforms") and headings[1].startswith("AutoDeploy transforms")
    message = str(error)
    assert message.startswith("6 problems in the pipeline config:")
    assert "unknown transform 'buld_model'; did you mean 'build_model'?" in message
    assert message.count("loaded plugins:") == 1
    with pytest.raises(ConfigProblems) as strict:
        resolve_pipeline(host, files=[path], strict=True)
    assert "max_seq_lenght" in {problem.path for problem in strict.value.problems}


def test_a_far_name_gets_no_suggestion(host, tmp_path):
    path = tmp_path / "far.yaml"
    path.write_text("transforms:\n  cleanup_everything_now:\n    stage: post_export\n")
    with pytest.raises(ConfigError) as info:
        resolve_pipeline(host, files=[path])
    assert "did you mean" not in str(info.value)
    assert "unknown transform 'cleanup_everything_now'; no installed plugin provides it" in str(info.value)


def test_world_size_is_the_ranks_and_without_sharding_names_torchrun(host):
    path = CONFIGS / "sharded.yaml"
    config, _ = resolve_pipeline(host, files=[path])  # the sharding plugin is installed
    assert config.world_size == 2 and "detect_sharding" in config.transforms
    config, _ = resolve_pipeline(host, data={"tensor_parallel_size": 4})
    assert config.world_size == 4
    unsharded = PluginHost.from_environment(environ={"AUTODEPLOY_BLOCK_PLUGINS": "sharding"})
    with pytest.raises(ConfigError, match="torchrun --nproc-per-node 2") as info:
        resolve_pipeline(unsharded, files=[path])
    assert (info.value.source, info.value.path) == (str(path), "world_size")


def test_cli_mode_wins_over_the_files_with_a_warning_and_null_means_no_preset(host, tmp_path):
    path = tmp_path / "mode.yaml"
    path.write_text("mode: transformers\n")
    with pytest.warns(ConfigWarning, match=f"--mode graph overrides `mode: transformers` of {path}"):
        config, _ = resolve_pipeline(host, files=[path], mode="graph")
    assert config.mode == "graph" and "export_to_gm" in config.transforms
    path.write_text("mode: null\ntransforms:\n  compile_model:\n    stage: compile\n    backend: torch-simple\n")
    config, entries = resolve_pipeline(host, files=[path])
    assert config.mode is None and [entry.key for entry in entries] == ["compile_model"]


def test_a_missing_backend_falls_back_only_when_allowed(host, tmp_path):
    path = tmp_path / "backends.yaml"
    path.write_text(
        "attn_backend: flashinfer\ncompile_backend: inductor\n"
        "transforms:\n  insert_cached_attention:\n    stage: cache_init\n"
    )
    with pytest.raises(ConfigProblems) as info:
        resolve_pipeline(host, files=[path])
    assert {problem.path for problem in info.value.problems} == {"attn_backend", "compile_backend"}
    assert "attn_backend 'flashinfer' is not installed (installed for insert_cached_attention: torch)" in str(
        info.value
    )
    with pytest.warns(ConfigWarning) as caught:
        config, _ = resolve_pipeline(host, files=[path], allow_unavailable=True)
    assert config.transforms["insert_cached_attention"]["backend"] == "torch"
    assert config.transforms["compile_model"]["backend"] == "torch-simple"
    said = "\n".join(str(warning.message) for warning in caught)
    assert "attn_backend 'flashinfer' is not installed" in said and "using 'torch' instead" in said
    assert "compile_backend 'inductor' is not installed" in said and "using 'torch-simple'" in said
    with pytest.raises(ConfigProblems):
        resolve_pipeline(host, files=[path], allow_unavailable=True, strict=True)


def test_batch_sizes_as_autodeploy_settles_them():
    assert autodeploy_batch_sizes([1, 2, 64, 8, 8], 16) == [8, 2, 1]
    assert autodeploy_batch_sizes(None, 8) == [8, 1]
    assert autodeploy_batch_sizes(None, 256) == [256, 128, 113, 97, 81, 65, 49, 33, 17, 1]
