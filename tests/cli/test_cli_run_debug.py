"""``run --bisect``, ``--dump-graphs`` and the export cache (``--no-cache``) on a real tiny model.

A real transform, registered in-process, perturbs the exported graph in post_export (before the
weights are loaded): it multiplies the logits by 1.5. ``--check`` then fails, and ``--bisect``
must name that transform, not the weight loading after it nor anything before it.
"""

from __future__ import annotations

import json

import pytest
from autodeploy_run_support import save_tiny_llama

from autodeploy import BaseTransform, TransformInfo, hookimpl
from autodeploy.cli import run as run_command
from autodeploy.cli.main import build_parser
from autodeploy.plugin import PluginHost

pytestmark = pytest.mark.slow

BROKEN_KEY = "perturb_logits"
IDS = ("--input-ids", "4,8,15,16,23,42", "--max-new-tokens", "1")


class PerturbLogits(BaseTransform):
    """Insert ``logits * 1.5`` before the graph's output: a deliberately wrong graph rewrite."""

    def _apply(self, gm, cm, factory, shared_config):
        import torch

        output = next(node for node in gm.graph.nodes if node.op == "output")
        logits = output.args[0][0] if isinstance(output.args[0], (tuple, list)) else output.args[0]
        with gm.graph.inserting_before(output):
            scaled = gm.graph.call_function(torch.ops.aten.mul.Tensor, (logits, 1.5))
        output.replace_input_with(logits, scaled)
        gm.graph.lint()
        gm.recompile()
        return gm, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=False)


class PerturbPlugin:
    @hookimpl
    def autodeploy_register_transforms(self, register):
        register(BROKEN_KEY, PerturbLogits)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("debug_ckpt") / "ckpt")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("AUTODEPLOY_CACHE_DIR", str(folder))
    return folder


def run_in_process(host, *args):
    parsed = build_parser().parse_args(["run", *args])
    return run_command.run(parsed, host)


def test_bisect_names_the_transform_that_broke_the_logits_and_dumps_every_graph(
    checkpoint, cache_dir, tmp_path, capsys
):
    host = PluginHost.from_environment(environ={})
    host.register(PerturbPlugin(), name="perturb-logits")
    config = tmp_path / "broken.yaml"
    config.write_text(f"transforms:\n  {BROKEN_KEY}:\n    stage: post_export\n")
    dumps, report = tmp_path / "dumps", tmp_path / "report.json"
    status = run_in_process(
        host,
        *("--model", str(checkpoint), "--config", str(config), *IDS),
        *("--bisect", "--dump-graphs", str(dumps), "--report-json", str(report)),
    )
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "--check failed" in err and BROKEN_KEY in err
    assert f"after transform 7 {BROKEN_KEY!r} (stage post_export)" in out

    steps = json.loads(report.read_text())["bisect"]["steps"]
    by_key = {step["key"]: step for step in steps}
    assert [step["key"] for step in steps][:2] == ["build_model", "export_to_gm"]
    # before it: measured (on weight-loaded copies) and equal to eager; from it on: off by far
    for key in ("export_to_gm", "cleanup_noop_slice", "cleanup_noop_add", "cleanup_unused_inputs"):
        assert by_key[key]["max_abs_diff"] is not None and by_key[key]["max_abs_diff"] <= 1e-4, key
    assert by_key[BROKEN_KEY]["max_abs_diff"] > 1e-2
    assert by_key["load_weights"]["max_abs_diff"] > 1e-2
    assert json.loads(report.read_text())["bisect"]["first_divergence"] == BROKEN_KEY

    written = sorted(path.name for path in dumps.iterdir())
    assert written[0] == "02_export_to_gm.py"
    assert f"07_{BROKEN_KEY}.py" in written
    assert not any(name.startswith("01_") for name in written)  # build_model leaves no graph
    texts = {name: (dumps / name).read_text() for name in written}
    for name, text in texts.items():
        compile(text, name, "exec")  # each dump is the graph's Python code
    assert "1.5" in texts[f"07_{BROKEN_KEY}.py"] and "1.5" not in texts["06_cleanup_unused_inputs.py"]
    assert not [path for path in dumps.iterdir() if path.name.startswith(".")]  # atomic writes leave no temp files


def test_bisect_passes_a_correct_pipeline(checkpoint, cache_dir, capsys):
    status = run_in_process(PluginHost.from_environment(environ={}), "--model", str(checkpoint), *IDS, "--bisect")
    out, _ = capsys.readouterr()
    assert status == 0
    assert "bisect: no transform made the logits differ" in out
    assert "check: max |optimized - eager|" in out and ": ok" in out


def test_a_second_run_hits_the_export_cache_and_no_cache_bypasses_it(checkpoint, cache_dir, tmp_path, capsys):
    host = PluginHost.from_environment(environ={})
    reports = [tmp_path / f"run{i}.json" for i in range(3)]
    args = ("--model", str(checkpoint), *IDS, "--check")
    statuses = [
        run_in_process(host, *args, "--report-json", str(reports[0])),
        run_in_process(host, *args, "--report-json", str(reports[1])),
        run_in_process(host, *args, "--report-json", str(reports[2]), "--no-cache"),
    ]
    out, _ = capsys.readouterr()
    assert statuses == [0, 0, 0]
    assert "applied (cache hit)" in out
    data = [json.loads(path.read_text()) for path in reports]
    notes = [next(t["notes"] for t in run["transforms"] if t["key"] == "export_to_gm") for run in data]
    assert notes == [["cached"], ["cache hit"], []]
    assert data[0]["generation"]["new_ids"] == data[1]["generation"]["new_ids"] == data[2]["generation"]["new_ids"]
    assert data[1]["check"]["max_abs_diff"] == data[0]["check"]["max_abs_diff"]
    assert len(list((cache_dir / "exports").iterdir())) == 1
