"""Catalogue: writes interrupted midway, and writes aimed at impossible places.

Everything autodeploy writes (reports, graph dumps, docs pages, scaffolds) goes through
`autodeploy.atomic`: a temporary file in the same folder, renamed into place. Each case makes a
real write fail midway in a child process (RLIMIT_FSIZE: the kernel refuses to let a file grow
past a size, the write returns EFBIG) over an existing file, then checks the old file is intact,
no temporary file is left, and the error is one clear line (exit 1 for the command line).
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
)
