"""A rank that fails while its peer waits in a collective (run by a test under the launcher)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from autodeploy.distributed import DistributedContext

if __name__ == "__main__":
    context = DistributedContext.from_env()
    context.init_process_group()
    if context.rank == 1:
        raise RuntimeError("deliberate failure on rank 1")
    dist.all_reduce(torch.ones(4))  # rank 0 waits here for a peer that is gone
