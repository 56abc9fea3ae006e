"""Catalogue: writes interrupted midway, and writes aimed at impossible places.

Everything autodeploy writes (reports, graph dumps, docs pages, scaffolds, cache folders) goes
through `autodeploy.atomic`: a temporary file in the same folder, renamed into place. Some cases
make a real write fail midway in a child process (RLIMIT_FSIZE: the kernel refuses to let a file
grow past a size, the write returns EFBIG) over an existing file, then check the old file is
intact, no temporary file is left, and the error is one clear line (exit 1 for the command line).

Others aim a write at what is not a file: a device node or a FIFO (written through, never
replaced), a directory (refused before any work), a link (kept). Device nodes are made with
``mknod`` when the suite runs as root, else they are links to the machine's own ``/dev/null`` and
``/dev/full``. The last cases are the model cache shared by users and hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

from reliability_bad_input import BadInput


@dataclass(frozen=True, kw_only=True)
class WriteCase(BadInput):
    writer: str  # what writes the file, in words
    fsize_limit: int = 0  # bytes a file may grow to in the child process (0: no limit used)


CASES: tuple[WriteCase, ...] = (
    WriteCase(
        id="atomic-write-interrupted",
        what="atomic_write_bytes interrupted after 4 KiB of 1 MB",
        writer="autodeploy.atomic.atomic_write_bytes",
        fsize_limit=4096,
    ),
    WriteCase(
        id="report-json-interrupted",
        what="`autodeploy run --report-json` interrupted while writing the report",
        writer="autodeploy run --report-json",
        fsize_limit=256,
    ),
    WriteCase(
        id="graph-dump-interrupted",
        what="a transform's debug graph dump (debug_visualize_dir) interrupted",
        writer="BaseTransform debug_visualize_dir dumps",
        fsize_limit=128,
    ),
    WriteCase(
        id="docs-page-interrupted",
        what="`autodeploy docs` interrupted while rewriting a reference page",
        writer="autodeploy docs --out",
        fsize_limit=64,
    ),
    WriteCase(
        id="scaffold-interrupted",
        what="`autodeploy new-plugin` interrupted after some of the plugin's files",
        writer="autodeploy new-plugin",
        fsize_limit=1500,
    ),
    WriteCase(
        id="write-below-a-file",
        what="a write to a path whose folder is an existing file",
        writer="autodeploy.atomic.atomic_write_text",
    ),
    WriteCase(
        id="report-json-to-a-full-device",
        what="`run --report-json DIR/full`, a copy of /dev/full (once replaced by a JSON file, exit 0)",
        writer="autodeploy run --report-json",
    ),
    WriteCase(
        id="report-json-to-a-stdout-link",
        what="`run --report-json DIR/stdout`, a link to /proc/self/fd/1 (once replaced, nothing on stdout)",
        writer="autodeploy run --report-json",
    ),
    WriteCase(
        id="report-json-to-a-directory",
        what="`run --report-json DIR`, a directory (once refused only after the whole run)",
        writer="autodeploy run --report-json",
    ),
    WriteCase(
        id="docs-page-is-a-directory",
        what="`docs --out` where a page's name is taken by a directory",
        writer="autodeploy docs --out",
    ),
    WriteCase(
        id="write-to-a-null-device",
        what="a write to a copy of /dev/null",
        writer="autodeploy.atomic.atomic_write_text",
    ),
    WriteCase(
        id="write-to-a-fifo",
        what="a write to a FIFO (named pipe) another thread reads",
        writer="autodeploy.atomic.atomic_write_text",
    ),
    WriteCase(
        id="write-to-a-fifo-nobody-reads",
        what="a write to a FIFO nobody reads (replaced once; a plain open would hang)",
        writer="autodeploy.atomic.atomic_write_text",
    ),
    WriteCase(
        id="write-through-a-link-to-a-file",
        what="a write to a symbolic link to a file (the link was replaced by a file)",
        writer="autodeploy.atomic.atomic_write_text",
    ),
    WriteCase(
        id="cache-folder-shared-between-users",
        what="a model cache folder made by one user and read by another (once private, 0700)",
        writer="the default-model plugin's cache",
    ),
    WriteCase(
        id="partial-conversion-of-another-host",
        what="a shared cache holding another host's conversion in progress (once removed: its pid is not alive here)",
        writer="the default-model plugin's cache",
    ),
)
