"""This process's place among the ranks: read from the environment torchrun sets.

``torchrun --nproc-per-node N -m autodeploy run ...`` and ``run --world-size N`` (which starts
the ranks through torch's own launcher) both set ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and
the rendezvous address; a plain process is rank 0 of 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# collectives wait at most this long for a peer: a rank that died must not hang the others
DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DistributedContext:
        def number(name: str, default: int) -> int:
            text = environ.get(name, "")
            try:
                return int(text) if text else default
            except ValueError:
                raise ValueError(f"environment variable {name}={text!r} is not an integer") from None

        world_size = number("WORLD_SIZE", 1)
        rank = number("RANK", 0)
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"RANK={rank} and WORLD_SIZE={world_size} do not describe a rank")
        return cls(rank=rank, local_rank=number("LOCAL_RANK", rank), world_size=world_size)

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 prints and returns text; the others only compute."""
        return self.rank == 0

    def init_process_group(self, device: str = "cpu", timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Join the process group (gloo on CPU, NCCL on CUDA) once, if this run has several ranks."""
        if not self.is_distributed:
            return
        import datetime

        import torch.distributed as dist

        if dist.is_initialized():
            return
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            import torch

            torch.cuda.set_device(self.local_rank)
        dist.init_process_group(
            backend=backend,
            rank=self.rank,
            world_size=self.world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )

    def leave_process_group(self, finished: bool = True) -> None:
        """Leave the process group before the interpreter exits, if this process joined one.

        Why: a gloo group still alive at interpreter exit is torn down by C++ static destructors
        with its worker threads still running, and the process aborts ("terminate called without
        an active exception", SIGABRT) at random, long after the work succeeded. ``finished``
        ranks first wait for each other (a barrier), so none leaves while a peer still needs it;
        a rank that failed leaves at once (its peers' collectives then fail by timeout, not hang).
        """
        if not self.is_distributed:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            return
        try:
            if finished:
                dist.barrier()
        finally:
            dist.destroy_process_group()
