"""``python -m autodeploy docs``: writes the pages, checks them, and never imports torch."""

import os
import subprocess
import sys

import pytest


def run_docs(*args, cwd=None, hash_seed="0"):
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "autodeploy", "docs", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    result = run_docs("--out", str(out))
    assert result.returncode == 0, result.stderr
    return out, result


def test_writes_index_core_and_one_page_per_stage(written):
    out, result = written
    names = sorted(path.name for path in out.iterdir())
    assert {"index.md", "core.md", "factory-stage.md", "compile-stage.md"} <= set(names)
    assert len([name for name in names if name.endswith("-stage.md")]) == 10
    assert f"{len(names)} pages, {len(names)} written" in result.stdout


def test_check_passes_on_fresh_pages_and_names_stale_ones(written, tmp_path):
    out, _ = written
    fresh = run_docs("--out", str(out), "--check", hash_seed="12345")  # deterministic across processes
    assert fresh.returncode == 0, fresh.stderr

    stale = tmp_path / "stale"
    assert run_docs("--out", str(stale)).returncode == 0
    (stale / "factory-stage.md").write_text((stale / "factory-stage.md").read_text() + "edited by hand\n")
    (stale / "compile-stage.md").unlink()
    result = run_docs("--out", str(stale), "--check")
    assert result.returncode == 1
    assert "factory-stage.md: differs from the generated page" in result.stderr
    assert "compile-stage.md: missing" in result.stderr
    assert "index.md" not in result.stderr
    # --check writes nothing
    assert not (stale / "compile-stage.md").exists()


def test_default_folder_is_docs_reference_under_the_working_directory(tmp_path):
    result = run_docs(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "docs" / "reference" / "index.md").is_file()


def test_generating_docs_imports_no_torch(tmp_path):
    code = (
        "import sys\n"
        "from autodeploy.cli.main import main\n"
        f"assert main(['docs', '--out', {str(tmp_path)!r}]) == 0\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
