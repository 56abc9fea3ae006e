"""The words of the reference that are not in the code: what each stage is for, and titles.

Kept next to the docs generator rather than in `stages.py` because only the documentation needs
them; a test checks that every stage has a paragraph, so a new stage cannot ship undocumented.
"""

from __future__ import annotations

from ..naming import title_from_key
from ..stages import Stages

STAGE_PURPOSE: dict[Stages, str] = {
    Stages.FACTORY: (
        "Factory transforms make the starting module of a pipeline from the model factory: they "
        "build the model (on the meta device, without weights) or build and load it in one go. "
        "Every later stage works on the module this stage puts in place."
    ),
    Stages.EXPORT: (
        "Export transforms capture the model as a `torch.fx.GraphModule` (through `torch.export`), "
        "so that the stages after it can rewrite the graph instead of Python code."
    ),
    Stages.POST_EXPORT: (
        "Post-export transforms clean up the freshly exported graph: low-level canonicalisation "
        "that makes the graph simpler and more uniform before patterns are matched."
    ),
    Stages.PATTERN_MATCHER: (
        "Pattern-matcher transforms recognise high-level patterns in the graph (attention, "
        "rotary embeddings, normalisations, ...) and replace them with canonical forms that the "
        "later stages know how to shard, fuse and cache."
    ),
    Stages.SHARDING: (
        "Sharding transforms split the graph and its weights across ranks (`torch.distributed`), "
        "so that a model larger than one device can run on several."
    ),
    Stages.WEIGHT_LOAD: (
        "Weight-load transforms put the real weights into the module, typically streamed from "
        "the checkpoint's safetensors files one shard at a time, and move the module and its "
        "inputs to the target device."
    ),
    Stages.POST_LOAD_FUSION: (
        "Post-load fusion transforms fuse operations and weights once the real weights are in "
        "place (for example merging projections), for speed."
    ),
    Stages.CACHE_INIT: (
        "Cache-init transforms swap attention for cached attention and allocate the caches "
        "(KV cache and the like) that inference needs."
    ),
    Stages.VISUALIZE: ("Visualize transforms draw or dump the graph for inspection; they leave the module as it is."),
    Stages.COMPILE: (
        "Compile transforms hand the finished module to a compiler backend (for example "
        "`torch.compile`) to produce the module that serves inference."
    ),
}


def stage_title(stage: Stages) -> str:
    """``post_export`` -> ``Post Export Stage``: the title of a stage's page."""
    return f"{title_from_key(stage.value)} Stage"
