"""Memory readings taken around each transform: process RSS on CPU, allocated memory on CUDA.

AutoDeploy only watches CUDA; on a CPU machine that would report nothing, so we read RSS too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional

import psutil

MB = 1024 * 1024
# RSS also moves for reasons of its own: the allocator, and torch's lazily imported internals
# (the first export in a process adds ~90 MB). CUDA allocations move only for real tensors.
RSS_CHANGE_THRESHOLD_MB = 128.0
CUDA_CHANGE_THRESHOLD_MB = 32.0


@dataclass(frozen=True)
class MemorySnapshot:
    rss_mb: float
    cuda_mb: Optional[float]


def take_snapshot() -> MemorySnapshot:
    """Current process RSS and, when torch is loaded and CUDA is usable, CUDA allocated memory."""
    rss_mb = psutil.Process().memory_info().rss / MB
    cuda_mb = None
    torch = sys.modules.get("torch")  # never import torch just to measure memory
    if torch is not None and torch.cuda.is_available():
        cuda_mb = torch.cuda.memory_allocated() / MB
    return MemorySnapshot(rss_mb=rss_mb, cuda_mb=cuda_mb)


def significant_change(before: MemorySnapshot, after: MemorySnapshot) -> Optional[str]:
    """A description of a change above the threshold, or None when memory barely moved."""
    changes = []
    if abs(after.rss_mb - before.rss_mb) > RSS_CHANGE_THRESHOLD_MB:
        changes.append(f"RSS {after.rss_mb - before.rss_mb:+.1f} MB")
    if before.cuda_mb is not None and after.cuda_mb is not None:
        if abs(after.cuda_mb - before.cuda_mb) > CUDA_CHANGE_THRESHOLD_MB:
            changes.append(f"CUDA {after.cuda_mb - before.cuda_mb:+.1f} MB")
    return ", ".join(changes) or None


def device_memory_changed(before: MemorySnapshot, after: MemorySnapshot) -> bool:
    """Whether CUDA allocations moved beyond the threshold: what ``expect_mem_change`` is about."""
    if before.cuda_mb is None or after.cuda_mb is None:
        return False
    return abs(after.cuda_mb - before.cuda_mb) > CUDA_CHANGE_THRESHOLD_MB
