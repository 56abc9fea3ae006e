"""``run --check`` catches an optimized module that no longer computes what the eager model does.

A real transform, registered in-process, scales the final norm's weights after loading: the
optimized module's logits then differ from the eager model's, and the check must say so.
"""

from __future__ import annotations

import json
import re

import pytest
from autodeploy_run_support import save_tiny_llama

from autodeploy import BaseTransform, TransformConfig, TransformInfo, hookimpl
from autodeploy.cli import run as run_command
from autodeploy.cli.main import build_parser
from autodeploy.plugin import PluginHost


class ScaleFinalNormConfig(TransformConfig):
    scale: float = 1.5


class ScaleFinalNorm(BaseTransform):
    config: ScaleFinalNormConfig

    @classmethod
    def get_config_class(cls):
        return ScaleFinalNormConfig

    def _apply_to_full_model(self, mod, cm, factory, shared_config):
        import torch

        touched = 0
        with torch.no_grad():
            for name, parameter in mod.named_parameters():
                if name.endswith("model.norm.weight"):
                    parameter.mul_(self.config.scale)
                    touched += 1
        return mod, TransformInfo(skipped=touched == 0, num_matches=touched, is_clean=True, has_valid_shapes=True)


class ScaleFinalNormPlugin:
    @hookimpl
    def autodeploy_register_transforms(self, register):
        register("scale_final_norm", ScaleFinalNorm)


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost.from_environment(environ={})
    host.register(ScaleFinalNormPlugin(), name="scale-final-norm")
    return host


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTODEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    checkpoint = save_tiny_llama(tmp_path / "ckpt")
    config = tmp_path / "scale.yaml"
    config.write_text("transforms:\n  scale_final_norm:\n    stage: post_load_fusion\n    run_per_gm: false\n")
    return checkpoint, config


def run_in_process(host, *args):
    parsed = build_parser().parse_args(["run", *args])
    return run_command.run(parsed, host)


@pytest.mark.slow
def test_check_fails_above_the_tolerance_and_passes_under_a_looser_one(host, setup, tmp_path, capsys):
    checkpoint, config = setup
    common = ("--model", str(checkpoint), "--config", str(config), "--input-ids", "4,8,15,16", "--max-new-tokens", "1")

    status = run_in_process(host, *common, "--check")
    out, err = capsys.readouterr()
    assert status == 1
    assert "scale_final_norm" in out
    assert "FAILED" in out
    assert "--check failed" in err and "--check-tol" in err

    report_path = tmp_path / "loose.json"
    status = run_in_process(host, *common, "--check", "--check-tol", "1000", "--report-json", str(report_path))
    out, _ = capsys.readouterr()
    assert status == 0
    check = json.loads(report_path.read_text())["check"]
    assert check["passed"] is True and check["tolerance"] == 1000
    assert check["max_abs_diff"] > 1e-3  # the change is real, only the tolerance let it pass

    status = run_in_process(host, *common, "--check", "--set", "transforms.scale_final_norm.scale=1.0")
    out, _ = capsys.readouterr()
    assert status == 0
    # scale 1.0 changes nothing: what is left is float32 rounding of the optimized graph's own
    # kernels (torch-simple computes short float32 linears as weight @ x.T), far under 1e-3
    difference = float(re.search(r"logits difference (\S+) ", out).group(1))
    assert difference < 1e-4 and "): ok" in out
