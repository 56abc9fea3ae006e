"""The ``load_weights`` procedure, step by step, on the module a pipeline holds.

1. weights: stream the factory's checkpoint into the model on the load device (or, when the
   factory skips loading weights, initialise them randomly there);
2. device: when ``checkpoint_device`` differs from the target device, move the weights over;
3. buffers: put the factory's non-persistent buffers (computed on the target device) in place;
   then nothing may be left on the meta device;
4. graphs: retarget the devices baked into exported graphs and recompile them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from torch import nn

from autodeploy import ModelFactory
from autodeploy.graph import get_pipeline_model

from .buffers import check_nothing_on_meta, place_buffers
from .graph_device import retarget_graphs
from .progress import checkpoint_bytes, make_bar, should_show
from .random_init import random_init
from .slots import move_slots
from .streaming import StreamResult, stream_checkpoint
from .ties import lazy_tie_groups

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadOptions:
    device: str
    checkpoint_device: Optional[str] = None
    show_progress: Optional[bool] = None
    random_init_seed: int = 0
    random_init_std: float = 0.02


@dataclass(frozen=True)
class LoadSummary:
    tensors: int  # tensors put in place (loaded, or random when weights are skipped)
    tied: int  # names filled through a tie instead of from the checkpoint
    buffers: int  # non-persistent buffers put in place
    graph_nodes_retargeted: int
    random: bool


def load_weights(mod: nn.Module, factory: ModelFactory, options: LoadOptions) -> LoadSummary:
    """Run the four steps above on `mod`; see the module docstring."""
    # checkpoint names are the model's state-dict names: the load happens at the model's root
    target = get_pipeline_model(mod)
    load_device = options.checkpoint_device or options.device
    source = factory.describe()
    tied = 0
    if factory.skip_loading_weights:
        slots = random_init(target, load_device, options.random_init_seed, options.random_init_std)
        tensors = len(slots)
    else:
        result = _stream(target, factory, load_device, source, options.show_progress)
        slots, tensors, tied = result.slots, result.loaded, result.tied
    if load_device != options.device:
        move_slots(target, slots, options.device)
    buffers = place_buffers(target, factory.init_buffers(options.device), options.device)
    if options.device != "meta":
        check_nothing_on_meta(target, source)
    retargeted = retarget_graphs(mod, options.device)
    summary = LoadSummary(tensors, tied, buffers, retargeted, random=factory.skip_loading_weights)
    logger.info("load_weights: %s", summary)
    return summary


def _stream(
    target: nn.Module, factory: ModelFactory, device: str, source: str, show_progress: Optional[bool]
) -> StreamResult:
    files = factory.checkpoint_files()
    total_bytes = checkpoint_bytes(files)
    shards = factory.iter_checkpoint_shards()
    ties = lazy_tie_groups(factory)
    if not should_show(show_progress, total_bytes):
        return stream_checkpoint(target, shards, device, source, tie_groups=ties)
    bar = make_bar(len(files), total_bytes)

    def on_shard(shard_name: str) -> None:
        bar.set_postfix_str(shard_name, refresh=False)
        bar.update(1)

    try:
        return stream_checkpoint(target, shards, device, source, on_shard, tie_groups=ties)
    finally:
        bar.close()
