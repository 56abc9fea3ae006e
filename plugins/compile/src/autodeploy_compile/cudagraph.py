"""CUDA graphs of the decode step, one per batch size (``torch-cudagraph``, and ``torch-opt`` on top
of torch.compile), as AutoDeploy captures them.

A decode step (every input of shape ``(batch, 1)``) costs little compute but many kernel launches;
replaying a captured graph removes the launches. Graphs are captured largest batch first, sharing
one memory pool, and a step of a smaller batch is padded up to the closest captured size. Any
other call (a prefill, a batch larger than the largest size, inputs on the CPU) runs the model as
it is. Only imported on CUDA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch
from torch import nn
from torch.utils._pytree import tree_map

WARMUP_CALLS = 2


def default_batch_sizes(max_batch_size: int) -> list[int]:
    """AutoDeploy's sizes when none are given: 1, the maximum, every 16th up to 128, every 128th beyond."""
    sizes = {1, max_batch_size}
    sizes.update(range(1, min(128, max_batch_size) + 1, 16))
    sizes.update(range(128, max_batch_size + 1, 128))
    return sorted(sizes, reverse=True)


def round_up(batch_sizes: Sequence[int], batch: int) -> Optional[int]:
    """The smallest captured size that holds `batch`, or None when none does."""
    fitting = [size for size in batch_sizes if size >= batch]
    return min(fitting) if fitting else None


class CapturedGraph(nn.Module):
    """The model, with its decode step replayed from CUDA graphs for the given batch sizes."""

    def __init__(self, model: nn.Module, batch_sizes: Sequence[int]):
        super().__init__()
        self.model = model
        self.batch_sizes = sorted(set(batch_sizes), reverse=True)
        self._names: tuple[str, ...] = ()
        self._inputs: dict[str, torch.Tensor] = {}
        self._graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self._outputs: dict[int, Any] = {}

    @property
    def captured_sizes(self) -> list[int]:
        return sorted(self._graphs, reverse=True)

    def capture(self, example: Mapping[str, torch.Tensor]) -> None:
        """Capture one graph per batch size for decode-shaped inputs like `example` (names, dtypes)."""
        self._names = tuple(example)
        largest = self.batch_sizes[0]
        self._inputs = {name: value[:1, :1].expand(largest, 1).contiguous() for name, value in example.items()}
        pool = None
        for size in self.batch_sizes:  # largest first: the smaller graphs reuse its memory
            inputs = {name: buffer[:size] for name, buffer in self._inputs.items()}
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up runs (lazy inits, autotuning) stay out of the graph
                for _ in range(WARMUP_CALLS):
                    self.model(**inputs)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self._outputs[size] = self.model(**inputs)
            pool = graph.pool()
            self._graphs[size] = graph

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        named = self._decode_inputs(args, kwargs)
        if named is None:
            return self.model(*args, **kwargs)
        batch = next(iter(named.values())).shape[0]
        size = round_up(self.captured_sizes, batch)
        if size is None:
            return self.model(*args, **kwargs)
        for name, value in named.items():
            self._inputs[name][:batch].copy_(value)
        self._graphs[size].replay()
        # the graph's outputs are overwritten by the next replay: hand out copies of this batch's rows
        return tree_map(lambda out: out[:batch].clone() if isinstance(out, torch.Tensor) else out, self._outputs[size])

    def _decode_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[dict[str, torch.Tensor]]:
        """The call's inputs by name when it is a decode step the graphs can replay, else None."""
        if not self._graphs or len(args) > len(self._names):
            return None
        named = dict(zip(self._names, args, strict=False))
        named.update(kwargs)
        if set(named) != set(self._names):
            return None
        batches = set()
        for name, value in named.items():
            buffer = self._inputs[name]
            if not isinstance(value, torch.Tensor) or value.dim() != 2 or value.shape[1] != 1:
                return None
            if value.dtype != buffer.dtype or value.device != buffer.device:
                return None
            batches.add(value.shape[0])
        return named if len(batches) == 1 else None
