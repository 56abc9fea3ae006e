"""``run --world-size N``: start the ranks, or, inside one, keep quiet unless rank 0.

The launcher is torch's own (`autodeploy.distributed.launch`): ``--world-size 2`` does what
``torchrun --standalone --nproc-per-node 2 -m autodeploy run ...`` does, with the same command
line in every rank. Inside a rank (``WORLD_SIZE`` set by either launcher) nothing is launched;
ranks other than 0 print nothing to stdout, and their errors on stderr carry their rank.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from ..distributed import DistributedContext
from .output import write_text

EXIT_RANK_FAILED = 1


def add_world_size_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--world-size",
        type=_world_size,
        default=None,
        metavar="N",
        help="run the model tensor-parallel over N ranks on this machine (started through torch's launcher, "
        "as torchrun does; for several machines use torchrun). Same as the config's world_size",
    )


def _world_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def launch_if_requested(world_size: Optional[int], argv: Optional[list[str]] = None) -> Optional[int]:
    """Start `world_size` ranks running this same command and return the exit status, if needed.

    Returns None when this process should do the work itself: one rank was asked for, or this
    process already is a rank.
    """
    context = DistributedContext.from_env()
    if world_size is None or world_size == 1 or context.is_distributed:
        return None
    from ..distributed.launch import RanksFailed, launch_ranks

    command = list(sys.argv[1:] if argv is None else argv)
    try:
        launch_ranks(world_size, ["autodeploy", *command])
    except RanksFailed as exc:
        for failure in exc.failures:
            write_text(f"error: {failure.describe()}", stream=sys.stderr)
        return EXIT_RANK_FAILED
    return 0


def quiet_unless_main() -> DistributedContext:
    """In a rank other than 0, send stdout to /dev/null: rank 0 speaks for all."""
    context = DistributedContext.from_env()
    if context.is_distributed and not context.is_main:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    return context


def rank_prefix() -> str:
    """``"[rank 1] "`` inside a rank of a distributed run, else nothing: says who failed."""
    try:
        context = DistributedContext.from_env()
    except ValueError:
        return ""
    return f"[rank {context.rank}] " if context.is_distributed else ""
