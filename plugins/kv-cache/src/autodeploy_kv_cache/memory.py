"""How much memory the device has free, for sizing the KV cache."""

from __future__ import annotations

import os


def available_bytes(device: str) -> int:
    """Free memory of `device`: CUDA's free memory, or the host's available memory for CPU."""
    import torch

    target = torch.device(device)
    if target.type == "cuda":
        free, _total = torch.cuda.mem_get_info(target)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    pages, page_size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return int(pages * page_size)
