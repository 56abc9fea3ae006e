"""Interrupted writes leave the old file intact and no temporary file behind; the failure is one
clear line. The interruption is real: the child process may not grow any file past a few bytes
(RLIMIT_FSIZE, SIGXFSZ ignored), so the write itself fails with EFBIG. No mocks.

A static check completes the picture: no module of autodeploy or of the first-party plugins writes a
file except through `autodeploy.atomic`.
"""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_bad_input import params
from reliability_cases_writes import CASES, WriteCase
from reliability_support import (
    REPO_ROOT,
    TRACEBACK,
    CliCall,
    assert_clean_failure,
    clean_env,
    file_size_limit,
    leftover_temp_files,
    run_cli,
    run_many,
)

from autodeploy import AutodeployError
from autodeploy.atomic import AtomicWriteError, atomic_write_text

EFBIG_TEXT = "File too large"


def run_script(script: str, *args: str, fsize_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=file_size_limit(fsize_limit) if fsize_limit else None,
    )


def atomic_write_interrupted(case: WriteCase, tmp_path: Path, **_) -> None:
    target = tmp_path / "weights-report.bin"
    target.write_bytes(b"old content")
    script = """
        import json, sys
        from autodeploy import AutodeployError
        from autodeploy.atomic import atomic_write_bytes
        try:
            atomic_write_bytes(sys.argv[1], b"x" * 1_000_000)
        except AutodeployError as exc:
            print(json.dumps({"message": str(exc), "errno": exc.errno, "is_os_error": isinstance(exc, OSError)}))
    """
    result = run_script(script, str(target), fsize_limit=case.fsize_limit)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome == {
        "message": f"cannot write {target}: {EFBIG_TEXT}; the previous file, if any, is unchanged",
        "errno": 27,
        "is_os_error": True,
    }
    assert target.read_bytes() == b"old content"
    assert leftover_temp_files(tmp_path) == []


def report_json_interrupted(case: WriteCase, tmp_path: Path, reliability_sites, tiny_llama_dir, cli_cwd, **_) -> None:
    report = tmp_path / "report.json"
    report.write_text('{"old": "report"}\n')
    args = ("run", "--model", str(tiny_llama_dir), "--mode", "reliability_fail", "--input-ids", "1,2")
    call = CliCall((*args, "--report-json", str(report)), clean_env(reliability_sites.main), cli_cwd, case.fsize_limit)
    result = run_cli(call)
    assert_clean_failure(result, f"error: --report-json: cannot write {report}: {EFBIG_TEXT}")
    assert "always_fails  failed" in result.stdout  # the run itself got as far as its report
    assert report.read_text() == '{"old": "report"}\n'
    assert leftover_temp_files(tmp_path) == []


GRAPH_DUMP_SCRIPT = """
    import json, sys
    import torch
    from autodeploy import BaseTransform, CachedSequenceInterface, SharedConfig, TransformError, TransformInfo
    from autodeploy.optimizer.container import new_pipeline_module

    class Touch(BaseTransform):
        transform_key = "touch"  # built here, not through a plugin host

        def _apply_to_full_model(self, mod, cm, factory, shared_config):
            return mod, TransformInfo(skipped=False, num_matches=1, is_clean=True, has_valid_shapes=True)

    mod = new_pipeline_module()
    mod.factory_model = torch.fx.symbolic_trace(torch.nn.Sequential(torch.nn.Linear(4, 4)))
    touch = Touch.from_kwargs(stage="post_export", run_per_gm=False, debug_visualize_dir=sys.argv[1])
    try:
        touch(mod, CachedSequenceInterface(max_seq_len=8, max_batch_size=2), None, SharedConfig())
        print(json.dumps({"ok": True}))
    except TransformError as exc:
        print(json.dumps({"error": str(exc), "status": touch.last_record.status.value}))
"""


def graph_dump_interrupted(case: WriteCase, tmp_path: Path, **_) -> None:
    dumps = tmp_path / "dumps"
    first = run_script(GRAPH_DUMP_SCRIPT, str(dumps))  # a complete dump, as a previous run left it
    assert json.loads(first.stdout) == {"ok": True}, first.stderr
    (dump,) = sorted(dumps.glob("*.py.txt"))
    dump.write_text("# the previous run's dump\n")

    result = run_script(GRAPH_DUMP_SCRIPT, str(dumps), fsize_limit=case.fsize_limit)
    assert TRACEBACK not in result.stderr, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "failed"
    assert outcome["error"].startswith(
        f"transform 'touch' (stage post_export) failed: cannot write its graph dump to debug_visualize_dir "
        f"'{dumps}': {EFBIG_TEXT}"
    ), outcome
    assert dump.read_text() == "# the previous run's dump\n"
    assert leftover_temp_files(tmp_path) == []


def docs_page_interrupted(case: WriteCase, tmp_path: Path, cli_cwd, **_) -> None:
    pages = tmp_path / "reference"
    env = clean_env()
    first = run_cli(CliCall(("docs", "--out", str(pages)), env, cli_cwd))
    assert first.returncode == 0, first.stderr
    index = pages / "index.md"
    edited = index.read_text() + "\nA line the next run will rewrite.\n"
    index.write_text(edited)
    before = {path.name: path.read_bytes() for path in pages.iterdir()}

    result = run_cli(CliCall(("docs", "--out", str(pages)), env, cli_cwd, case.fsize_limit))
    assert_clean_failure(result, f"error: cannot write {index}: {EFBIG_TEXT}; the previous file, if any, is unchanged")
    assert {path.name: path.read_bytes() for path in pages.iterdir()} == before
    assert leftover_temp_files(tmp_path) == []


def scaffold_interrupted(case: WriteCase, tmp_path: Path, cli_cwd, **_) -> None:
    env = clean_env()
    result = run_cli(CliCall(("new-plugin", "reliable_probe", "--dir", str(tmp_path)), env, cli_cwd, case.fsize_limit))
    target = tmp_path / "autodeploy-plugin-reliable-probe"
    assert_clean_failure(result, f"error: cannot write {target}{os.sep}", EFBIG_TEXT)
    assert leftover_temp_files(tmp_path) == []
    assert list(tmp_path.iterdir()) == [], "the interrupted run left a partial plugin folder"
    # nothing half-made may stand in the way: the same command, uninterrupted, must now succeed
    again = run_cli(CliCall(("new-plugin", "reliable_probe", "--dir", str(tmp_path)), env, cli_cwd))
    assert again.returncode == 0, again.stderr


def write_below_a_file(case: WriteCase, tmp_path: Path, **_) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder is expected")
    target = blocker / "pages" / "index.md"
    with pytest.raises(AtomicWriteError) as info:
        atomic_write_text(target, "page")
    assert isinstance(info.value, AutodeployError) and isinstance(info.value, OSError)
    assert (
        str(info.value)
        == f"cannot write {target}: {blocker} is a file, not a folder; the previous file, if any, is unchanged"
    )
    assert blocker.read_text() == "a file where a folder is expected"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


# ------------------------------------------------------------------- writes to what is not a file


def device_copy(folder: Path, name: str) -> Path:
    """A copy of /dev/<name> (`mknod`, as root), else a link to the machine's own device node."""
    path = folder / name
    original = os.stat(f"/dev/{name}")
    if os.geteuid() == 0:
        os.mknod(path, 0o666 | stat.S_IFCHR, original.st_rdev)
    else:
        path.symlink_to(f"/dev/{name}")
    return path


def assert_still_the_device(path: Path, name: str) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        assert os.readlink(path) == f"/dev/{name}"
    else:
        assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.stat(f"/dev/{name}").st_rdev, "the node was replaced"


REPORT_RUN = ("run", "--mode", "transformers", "--input-ids", "1,2,3", "--max-new-tokens", "1", "--report-json")


@pytest.fixture(scope="module")
def report_target_runs(tiny_llama_dir, cli_cwd, tmp_path_factory) -> dict[str, tuple[Path, Any]]:
    """`run --report-json` aimed at a copy of /dev/full, a link to stdout and a directory (one batch)."""
    folder = tmp_path_factory.mktemp("report_targets")
    targets = {
        "report-json-to-a-full-device": device_copy(folder, "full"),
        "report-json-to-a-stdout-link": folder / "stdout",
        "report-json-to-a-directory": folder / "reports",
    }
    targets["report-json-to-a-stdout-link"].symlink_to("/proc/self/fd/1")
    targets["report-json-to-a-directory"].mkdir()
    (targets["report-json-to-a-directory"] / "keep.txt").write_text("mine\n")
    calls = {
        case_id: CliCall(("run", "--model", str(tiny_llama_dir), *REPORT_RUN[1:], str(path)), clean_env(), cli_cwd)
        for case_id, path in targets.items()
    }
    results = run_many(calls)
    return {case_id: (targets[case_id], results[case_id]) for case_id in targets}


def report_json_to_a_full_device(case: WriteCase, tmp_path: Path, report_target_runs, **_) -> None:
    target, result = report_target_runs[case.id]
    assert_clean_failure(result, f"error: --report-json: cannot write {target}: No space left on device")
    assert "pipeline: " in result.stdout  # written through at the end of the run, as to a file
    assert_still_the_device(target, "full")


def report_json_to_a_stdout_link(case: WriteCase, tmp_path: Path, report_target_runs, **_) -> None:
    target, result = report_target_runs[case.id]
    assert result.returncode == 0, result.stderr
    printed, marker, report = result.stdout.partition("\n{\n")
    assert "pipeline: " in printed, "what the run printed comes before the report"
    payload = json.loads(marker.strip() + report)
    assert payload["ok"] is True and payload["generation"]["num_new_tokens"] == 1
    assert os.readlink(target) == "/proc/self/fd/1", "the link was replaced"


def report_json_to_a_directory(case: WriteCase, tmp_path: Path, report_target_runs, **_) -> None:
    target, result = report_target_runs[case.id]
    assert_clean_failure(result, f"error: --report-json: cannot write {target}: it is a directory, not a file")
    assert result.stdout == "", "refused after the run started"
    assert sorted(path.name for path in target.iterdir()) == ["keep.txt"]


def docs_page_is_a_directory(case: WriteCase, tmp_path: Path, cli_cwd, **_) -> None:
    pages = tmp_path / "reference"
    (pages / "index.md").mkdir(parents=True)
    (pages / "index.md" / "mine.txt").write_text("mine\n")
    result = run_cli(CliCall(("docs", "--out", str(pages)), clean_env(), cli_cwd))
    assert_clean_failure(
        result, f"error: cannot write {pages / 'index.md'}: it is a directory, not a file; nothing was written"
    )
    assert (pages / "index.md" / "mine.txt").read_text() == "mine\n"
    assert leftover_temp_files(tmp_path) == []


def write_to_a_null_device(case: WriteCase, tmp_path: Path, **_) -> None:
    target = device_copy(tmp_path, "null")
    assert atomic_write_text(target, "a report nobody keeps\n") == target
    assert_still_the_device(target, "null")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["null"]


def write_to_a_fifo(case: WriteCase, tmp_path: Path, **_) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    text = "through the pipe\n" * 10_000  # more than a pipe buffer holds: the write waits for the reader
    received: list[bytes] = []
    reader_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the write
    holder_fd = os.open(fifo, os.O_WRONLY)  # a second writer, so the reader sees no end before the write
    reader = threading.Thread(target=lambda: received.append(_read_all(reader_fd)))
    reader.start()
    try:
        atomic_write_text(fifo, text)
    finally:
        os.close(holder_fd)
        reader.join(timeout=60)
    assert b"".join(received) == text.encode()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _read_all(fd: int) -> bytes:
    chunks = []
    os.set_blocking(fd, True)
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def write_to_a_fifo_nobody_reads(case: WriteCase, tmp_path: Path, **_) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(AtomicWriteError) as info:
        atomic_write_text(fifo, "nobody listens\n")
    assert str(info.value) == f"cannot write {fifo}: it is a FIFO (named pipe) that no process is reading"
    assert isinstance(info.value, AutodeployError)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def write_through_a_link_to_a_file(case: WriteCase, tmp_path: Path, **_) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "report.json"
    real.write_text("old\n")
    link = tmp_path / "report.json"
    link.symlink_to(real)
    assert atomic_write_text(link, "new\n") == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n"
    assert leftover_temp_files(tmp_path) == []


# ------------------------------------------------------------------------------ the shared cache


def cache_folder_shared_between_users(case: WriteCase, tmp_path: Path, **_) -> None:
    from autodeploy_default_model.cache_folder import COMPLETE_MARKER, materialize_folder

    umask = os.umask(0o022)
    try:
        folder = materialize_folder(tmp_path / "models" / "tiny", _two_files, description={"by": "user a"})
    finally:
        os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o755, "other users could not read the cache folder"
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in folder.iterdir())
    assert (folder / COMPLETE_MARKER).is_file()


def partial_conversion_of_another_host(case: WriteCase, tmp_path: Path, **_) -> None:
    from autodeploy_default_model.cache_folder import BUILD_LOCK, materialize_folder

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    other = tmp_path / ".tiny.partial-otherhost"
    other.mkdir()
    # its process id is not alive here, which says nothing about the host that is converting
    lock = {"host": "another-host.example", "pid": int(finished.stdout), "started": time.time() - 60}
    (other / BUILD_LOCK).write_text(json.dumps(lock))
    (other / "model.safetensors").write_bytes(b"\0" * 64)

    materialize_folder(tmp_path / "tiny", _two_files, description={})
    assert (other / "model.safetensors").is_file(), "another host's conversion in progress was removed"


def _two_files(folder: Path) -> None:
    (folder / "a.txt").write_text("first")
    (folder / "b.txt").write_text("second")


CHECKS: dict[str, Callable[..., None]] = {
    "atomic-write-interrupted": atomic_write_interrupted,
    "report-json-interrupted": report_json_interrupted,
    "graph-dump-interrupted": graph_dump_interrupted,
    "docs-page-interrupted": docs_page_interrupted,
    "scaffold-interrupted": scaffold_interrupted,
    "write-below-a-file": write_below_a_file,
    "report-json-to-a-full-device": report_json_to_a_full_device,
    "report-json-to-a-stdout-link": report_json_to_a_stdout_link,
    "report-json-to-a-directory": report_json_to_a_directory,
    "docs-page-is-a-directory": docs_page_is_a_directory,
    "write-to-a-null-device": write_to_a_null_device,
    "write-to-a-fifo": write_to_a_fifo,
    "write-to-a-fifo-nobody-reads": write_to_a_fifo_nobody_reads,
    "write-through-a-link-to-a-file": write_through_a_link_to_a_file,
    "cache-folder-shared-between-users": cache_folder_shared_between_users,
    "partial-conversion-of-another-host": partial_conversion_of_another_host,
}
REPORT_TARGET_CASES = ("report-json-to-a-full-device", "report-json-to-a-stdout-link", "report-json-to-a-directory")


def test_every_write_case_has_a_check():
    assert sorted(CHECKS) == sorted(case.id for case in CASES)


@pytest.mark.parametrize("case", params(CASES))
def test_an_interrupted_or_impossible_write_loses_nothing(request, tmp_path, case: WriteCase):
    needed = {"report-json-interrupted": ("reliability_sites", "tiny_llama_dir")}.get(case.id, ())
    needed += ("report_target_runs",) if case.id in REPORT_TARGET_CASES else ()
    fixtures = {name: request.getfixturevalue(name) for name in ("cli_cwd", *needed)}
    CHECKS[case.id](case, tmp_path, **fixtures)


# ------------------------------------------------------------------------- no write bypasses atomic

SOURCE_ROOTS = [REPO_ROOT / "core" / "autodeploy", *sorted((REPO_ROOT / "plugins").glob("*/src"))]
WRITING_METHODS = {"write_text", "write_bytes"}
WRITE_MODES = set("wax+")
# writes that are not autodeploy's own outputs: the atomic writer itself, and the default-model
# plugin's conversion, which fills a private temporary folder renamed into place as a whole, and
# the ranks other than 0 of a distributed run, whose stdout goes to /dev/null, and the test kit's
# tiny checkpoint writer, whose save_pretrained fills a private staging folder (copied atomically)
ALLOWED = {
    "core/autodeploy/atomic.py",
    "core/autodeploy/cli/ranks.py",
    "core/autodeploy/testing/tiny_hf.py",
    "plugins/default-model/src/autodeploy_default_model/smollm2.py",
    "plugins/default-model/src/autodeploy_default_model/tiny_random.py",
}


def _direct_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        is_method = isinstance(node.func, ast.Attribute)  # path.write_text(), torch.save(): not output.write_text()
        name = node.func.attr if is_method else getattr(node.func, "id", "")
        if is_method and name in WRITING_METHODS | {"save_pretrained", "save", "dump"}:
            found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {name}()")
        elif name in {"open", "fdopen"}:
            mode = (
                node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            )
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and WRITE_MODES & set(mode.value):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {name}(..., {mode.value!r})")
    return found


def test_no_module_writes_a_file_except_through_atomic():
    sources = [path for root in SOURCE_ROOTS for path in sorted(root.rglob("*.py"))]
    assert len(sources) > 40, SOURCE_ROOTS  # the scan really looked at the code
    offenders = [
        write
        for path in sources
        if path.relative_to(REPO_ROOT).as_posix() not in ALLOWED
        for write in _direct_writes(path)
    ]
    assert offenders == []
