"""The factory and sequence interface a pipeline config describes, so a YAML file alone can run."""

from __future__ import annotations

import pytest
import torch
from tiny_pipeline_plugin import TinyFactory

from autodeploy.errors import ConfigError
from autodeploy.optimizer import InferenceOptimizer, build_factory, build_pipeline_config, build_sequence_interface


def test_factory_and_interface_come_from_the_config(host, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "mode: tiny\nmodel_factory: TinyFactory\nmodel: /models/tiny\nmodel_kwargs:\n  hidden: 8\n"
        "skip_loading_weights: true\nmax_seq_len: 32\nmax_batch_size: 3\n"
    )
    config = build_pipeline_config(host, files=path)  # a single path is accepted too
    factory = build_factory(host, config)
    assert isinstance(factory, TinyFactory)
    assert (factory.model, factory.model_kwargs, factory.skip_loading_weights) == ("/models/tiny", {"hidden": 8}, True)
    assert factory.max_seq_len == 32
    cm = build_sequence_interface(config)
    assert (cm.max_seq_len, cm.max_batch_size, cm.device) == (32, 3, "cpu")
    mod = InferenceOptimizer(factory, config, host=host)(cm)
    assert mod(torch.randn(2, 4)).shape == (2, 2)


def test_unknown_factory_names_the_closest_and_where_it_was_chosen(host, tmp_path):
    config = build_pipeline_config(host, data={"model_factory": "TinyFactroy"})
    with pytest.raises(ConfigError, match="did you mean 'TinyFactory'") as info:
        build_factory(host, config)
    assert info.value.path == "model_factory"
    assert info.value.source == "<python>"
    path = tmp_path / "f.yaml"
    path.write_text("model_factory: TinyFctory\n")
    with pytest.raises(ConfigError, match=f"^{path}: model_factory: unknown factory 'TinyFctory'"):
        build_factory(host, build_pipeline_config(host, files=[path]))


def test_dtype_and_trust_remote_code_reach_the_factory_only_when_set(host):
    # TinyFactory takes neither option: unset, the factory is built; set, it refuses them by name
    # (a factory that would ignore the config's dtype must say so, not run in another dtype)
    plain = build_factory(host, build_pipeline_config(host, data={"model_factory": "TinyFactory"}))
    assert isinstance(plain, TinyFactory)
    chosen = build_pipeline_config(
        host, data={"model_factory": "TinyFactory", "dtype": "bfloat16", "trust_remote_code": True}
    )
    with pytest.raises(ConfigError, match=r"TinyFactory does not take the option\(s\) dtype, trust_remote_code"):
        build_factory(host, chosen)
