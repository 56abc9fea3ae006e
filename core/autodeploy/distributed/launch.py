"""Start N ranks of a command on this machine through torch's own launcher (torchrun's engine).

``python -m autodeploy run --world-size 2 ...`` re-runs itself as 2 ranks, exactly as
``torchrun --standalone --nproc-per-node 2 -m autodeploy run ...`` would: torch's elastic agent
sets each rank's environment, watches them, and stops all of them when one fails, so a broken
rank never leaves the others waiting in a collective. Nothing here is a protocol of our own.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RankFailure:
    rank: int
    exit_code: int
    message: str

    def describe(self) -> str:
        detail = f": {self.message}" if self.message else " (its error is printed above)"
        return f"rank {self.rank} failed with exit code {self.exit_code}{detail}"


class RanksFailed(Exception):
    """One or more ranks failed; the launcher stopped the others (listed apart, as `stopped`)."""

    def __init__(self, failures: Sequence[RankFailure]):
        # a rank ended by a signal while another exited with an error was stopped by the launcher
        errors = [failure for failure in failures if failure.exit_code > 0]
        self.failures = errors or list(failures)
        self.stopped = [failure.rank for failure in failures if errors and failure.exit_code <= 0]
        message = "; ".join(failure.describe() for failure in self.failures)
        if self.stopped:
            message += f"; the launcher stopped rank(s) {', '.join(map(str, self.stopped))}"
        super().__init__(message)


def launch_ranks(world_size: int, module_args: Sequence[str], *, monitor_interval_s: float = 0.1) -> None:
    """Run ``python -m <module_args>`` as `world_size` ranks; return when all succeeded.

    Raises `RanksFailed` naming each failed rank (the first failure stops the others).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=world_size,
        run_id=f"autodeploy-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        max_restarts=0,
        monitor_interval=monitor_interval_s,
    )
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", *module_args)
    except ChildFailedError as exc:
        failures = []
        for rank, failure in sorted(exc.failures.items()):
            message = failure.message if isinstance(failure.message, str) else ""
            if message.startswith("To enable traceback see"):
                message = ""  # torch's hint about @record: the rank printed its own error
            failures.append(RankFailure(rank=rank, exit_code=failure.exitcode, message=message))
        raise RanksFailed(failures) from None
