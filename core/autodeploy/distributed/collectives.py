"""The collectives a sharded graph calls, as ``torch.ops.autodeploy`` ops.

Registered with `torch.library` (with fake implementations) so that graphs holding them can be
exported, shape-propagated and compiled like any other op. Outside a process group (one rank)
they are the identity, so a sharded graph of world size 1 runs unchanged.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@torch.library.custom_op("autodeploy::all_reduce", mutates_args=())
def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of `tensor` over all ranks (after a row-split linear layer)."""
    result = tensor.clone()
    if _distributed():
        dist.all_reduce(result, op=dist.ReduceOp.SUM)
    return result


@all_reduce.register_fake
def _(tensor: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(tensor)


@torch.library.custom_op("autodeploy::all_gather", mutates_args=())
def all_gather(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """The ranks' tensors concatenated along `dim` (after a column-split layer kept whole)."""
    if not _distributed():
        return tensor.clone()
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=dim)


@all_gather.register_fake
def _(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    world = dist.get_world_size() if _distributed() else 1
    shape = list(tensor.shape)
    shape[dim] = shape[dim] * world
    return tensor.new_empty(shape)
