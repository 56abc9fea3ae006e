"""Graph utilities the base transform runs around a transform: finding GraphModules in a
module, canonicalising them (cleanup) and propagating shapes.

torch is imported by the functions, never at module import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from torch import fx, nn

    from ..interface import CachedSequenceInterface


def named_graphmodules(mod: nn.Module) -> Iterator[tuple[str, fx.GraphModule]]:
    """Every `torch.fx.GraphModule` in `mod` (the module itself included), outermost first."""
    from torch import fx

    for name, sub in mod.named_modules():
        if isinstance(sub, fx.GraphModule):
            yield name, sub


def replace_submodule(root: nn.Module, qualified_name: str, new: nn.Module) -> None:
    """Put `new` where `qualified_name` is in `root` (the root itself cannot be replaced here)."""
    parent_name, _, attr = qualified_name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, attr, new)


def canonicalize_graph(gm: fx.GraphModule) -> None:
    """Clean a graph: drop dead code and unused submodules, lint it, recompile its code."""
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.graph.lint()
    gm.recompile()


def run_shape_prop(gm: fx.GraphModule, cm: Optional[CachedSequenceInterface] = None) -> None:
    """Record a fake tensor (``meta["val"]``) with shape and dtype on every node of `gm`.

    Inputs come from the placeholders' own ``meta["val"]`` (set by torch.export) or, failing
    that, from the sequence interface's example inputs by name. Runs under a fake tensor mode,
    so no real memory is used whatever the model size.
    """
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.passes.fake_tensor_prop import FakeTensorProp

    # example inputs live where the weights do (meta after a meta build), so that ops mixing
    # inputs and parameters see one device; under the fake mode they cost no memory either way
    weights_device = next((t.device for t in (*gm.parameters(), *gm.buffers())), None)
    examples = cm.example_inputs(device=str(weights_device) if weights_device else None) if cm is not None else {}
    inputs = []
    for node in gm.graph.nodes:
        if node.op != "placeholder":
            continue
        if "val" in node.meta:
            inputs.append(node.meta["val"])
        elif node.target in examples or node.name in examples:
            inputs.append(examples.get(node.target, examples.get(node.name)))
        else:
            raise ValueError(
                f"cannot propagate shapes: graph input {node.name!r} has no recorded value and the "
                f"sequence interface has no example input of that name (it has: {sorted(examples)})"
            )
    fake_mode = FakeTensorMode(allow_non_fake_inputs=True)
    with fake_mode:
        fake_inputs = [
            fake_mode.from_tensor(value) if isinstance(value, torch.Tensor) else value for value in inputs
        ]
    FakeTensorProp(gm, mode=fake_mode).propagate_dont_convert_inputs(*fake_inputs)
