"""Tensor parallelism's plumbing in the core: which slice of each weight a rank holds, the rank
and world size of this process, the collectives graphs call, and the launcher.

Kept in the core (not in the sharding plugin) because three parties share it: the sharding
transforms write the slices, the weight loader reads them, and ``run`` launches and joins the
ranks. Importing this package is torch-free; `collectives` and `launch` import torch.
"""

from .context import DistributedContext
from .weight_slices import WeightSlice, set_weight_slice, weight_slices

__all__ = ["DistributedContext", "WeightSlice", "set_weight_slice", "weight_slices"]
