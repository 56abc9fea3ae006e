"""Entry point `serve` (group autodeploy.plugins): the ``serve`` subcommand.

Registering costs an argparse call: FastAPI, uvicorn and torch are imported when the command
runs (`command.run`), so ``python -m autodeploy --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autodeploy import hookimpl

from .options import HELP, add_arguments

DESCRIPTION = (
    f"{HELP}. Builds the pipeline once (the same model and config resolution as `run`), then serves "
    "POST /v1/completions and /v1/chat/completions (stream: true for server-sent events), "
    "GET /v1/models, /health and /metrics. All requests share one continuous-batching engine."
)


def _run(args: Any, host: Any) -> int:
    from .command import run

    return run(args, host)


@hookimpl
def autodeploy_register_commands(register: Callable[..., None]) -> None:
    register("serve", help=HELP, add_arguments=add_arguments, run=_run, description=DESCRIPTION)
