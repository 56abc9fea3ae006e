"""Tensor parallelism's plumbing in the core: which slice of each weight a rank holds, the rank
and world size of this process, the collectives graphs call, and the launcher.

Kept in the core (not in the sharding plugin) because three parties share it: the sharding
transforms write the slices, the weight loader reads them, and ``run`` launches and joins the
ranks. Importing this package is torch-free; `collectives` and `launch` import torch.
"""

from .agreement import agree_with_main_rank
from .context import DistributedContext
from .launch import RankFailure, RanksFailed, launch_ranks
from .slice_reading import SafetensorsShard, read_weight_slice
from .weight_slices import WeightSlice, set_weight_slice, weight_slices


def register_collectives() -> None:
    """Make ``torch.ops.autodeploy.all_reduce`` / ``all_gather`` available (imports torch)."""
    from . import collectives  # noqa: F401 - registering is the import's effect


__all__ = [
    "agree_with_main_rank",
    "DistributedContext",
    "RankFailure",
    "RanksFailed",
    "SafetensorsShard",
    "WeightSlice",
    "launch_ranks",
    "read_weight_slice",
    "register_collectives",
    "set_weight_slice",
    "weight_slices",
]
