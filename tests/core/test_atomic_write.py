"""Atomic writes: the old file survives a write that fails midway."""

import subprocess
import sys
import textwrap

from autodeploy.atomic import atomic_write_text


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "page.md"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["page.md"]


def test_write_failing_midway_keeps_old_file(tmp_path):
    """A real mid-write failure: the file-size limit (RLIMIT_FSIZE) stops the write after 4 KiB."""
    target = tmp_path / "report.json"
    target.write_text("old content")
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from autodeploy.atomic import atomic_write_bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            atomic_write_bytes({str(target)!r}, b"x" * 1_000_000)
        except OSError as exc:
            print("failed:", exc.errno)
            sys.exit(0)
        sys.exit("the write did not fail")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "failed: 27" in result.stdout  # EFBIG
    assert target.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"], "temporary file left behind"


def test_new_files_get_the_usual_permissions_and_replaced_files_keep_theirs(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        fresh = atomic_write_text(tmp_path / "docs.md", "page")
        assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
        script = tmp_path / "tool.sh"
        script.write_text("#!/bin/sh\n")
        script.chmod(0o755)
        atomic_write_text(script, "#!/bin/sh\necho hi\n")
        assert script.stat().st_mode & 0o777 == 0o755
    finally:
        os.umask(umask)
