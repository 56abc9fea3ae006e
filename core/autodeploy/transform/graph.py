"""Graph utilities the base transform runs around a transform: finding GraphModules in a
module, canonicalising them (cleanup) and propagating shapes.

torch is imported by the functions, never at module import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

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


def node_arg(node: fx.Node, index: int, keyword: Optional[str] = None) -> Optional[fx.Node]:
    """`node`'s argument at position `index` (or, when the call has fewer positional arguments, its
    keyword argument `keyword`) if that argument is a graph node; None for anything else (a
    constant, a list, a missing argument).

    ``node.args[i]`` is typed as any fx argument; matchers use this where they need a node, and
    treat None as "not the pattern" rather than failing on a graph they do not recognise.
    """
    from torch import fx

    if index < len(node.args):
        value = node.args[index]
    elif keyword is not None:
        value = node.kwargs.get(keyword)
    else:
        return None
    return value if isinstance(value, fx.Node) else None


def canonicalize_graph(gm: fx.GraphModule) -> None:
    """Clean a graph: drop dead code and unused submodules, lint it, recompile its code."""
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.graph.lint()
    gm.recompile()


def run_shape_prop(
    gm: fx.GraphModule, cm: Optional[CachedSequenceInterface] = None, *, only_missing: bool = False
) -> None:
    """Record a fake tensor (``meta["val"]``) with shape and dtype on every node of `gm`.

    Inputs come from the placeholders' own ``meta["val"]`` (set by torch.export) or, failing
    that, from the sequence interface's example inputs by name. Runs under a fake tensor mode,
    so no real memory is used whatever the model size.

    With `only_missing`, only the nodes without a recorded value get one, computed from their
    inputs' recorded values in those values' own fake mode: the nodes a matcher or fusion added
    (a few hundred in a 30-layer model) instead of all of them, which on SmolLM2 is ~10 s less.
    When that cannot be done (values from several fake modes, a node kind it does not run), the
    whole graph is propagated as without it.
    """
    if only_missing and _propagate_missing(gm):
        return
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
        fake_inputs = [fake_mode.from_tensor(value) if isinstance(value, torch.Tensor) else value for value in inputs]
    FakeTensorProp(gm, mode=fake_mode).propagate_dont_convert_inputs(*fake_inputs)


def _propagate_missing(gm: fx.GraphModule) -> bool:
    """Fill ``meta["val"]`` of the nodes that lack one; False (values possibly partly set, to be
    overwritten by a full propagation) when that cannot be done incrementally."""
    import torch
    from torch._guards import detect_fake_mode
    from torch._subclasses.fake_tensor import FakeTensor
    from torch.fx.node import map_arg

    nodes = list(gm.graph.nodes)
    missing = [node for node in nodes if node.op != "output" and "val" not in node.meta]
    if not missing:
        return True
    if any(node.op not in ("call_function", "get_attr") for node in missing):
        return False
    try:
        mode = detect_fake_mode([node.meta["val"] for node in nodes if isinstance(node.meta.get("val"), FakeTensor)])
    except AssertionError:  # values from several fake modes: they cannot be combined
        return False
    if mode is None:
        return False
    try:
        with mode:
            for node in missing:
                if node.op == "get_attr":
                    attr = _fetch_attr(gm, str(node.target))
                    is_tensor = isinstance(attr, torch.Tensor)
                    node.meta["val"] = mode.from_tensor(attr, static_shapes=True) if is_tensor else attr
                    continue
                args, kwargs = map_arg((node.args, node.kwargs), lambda arg: arg.meta["val"])
                args, kwargs = _on_one_device((args, kwargs))
                node.meta["val"] = node.target(*args, **kwargs)
    except Exception:  # noqa: BLE001 - an input without a value, an op the mode refuses: propagate all
        return False
    return True


def _fetch_attr(gm: fx.GraphModule, target: str) -> Any:
    value: Any = gm
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _on_one_device(values: Any) -> Any:
    """`values` as they are, or with every tensor on meta when they are on several devices.

    An exported graph's recorded values are on meta (export ran on meta weights) while a
    fusion's new weight records the real device: only shapes and dtypes matter here.
    """
    import torch
    from torch.utils._pytree import tree_leaves, tree_map

    devices = {leaf.device for leaf in tree_leaves(values) if isinstance(leaf, torch.Tensor)}
    if len(devices) <= 1:
        return values
    return tree_map(lambda leaf: leaf.to("meta") if isinstance(leaf, torch.Tensor) else leaf, values)
