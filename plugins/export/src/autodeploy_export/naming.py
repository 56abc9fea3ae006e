"""Give the exported GraphModule the eager model's own names.

torch.export names every parameter, buffer and submodule after the path from the exported
module; since we export a `LogitsWrapper`, those paths start with its attribute
(``model.model.layers.0...`` for a Llama). Checkpoints, ``init_buffers`` and the weight loader
all use the model's own names, so the prefix is removed: the wrapped model's children,
parameters and buffers move up to the GraphModule's root and every ``get_attr`` node (and the
``nn_module_stack`` metadata) is renamed to match.

After this, ``gm.state_dict().keys() == model.state_dict().keys()``, and the buffer names
(non-persistent ones like rotary ``inv_freq`` included, still non-persistent) are the model's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ExportInputError

if TYPE_CHECKING:
    from torch import fx


def hoist_wrapped_model(gm: fx.GraphModule, attr: str) -> None:
    """Move the contents of ``gm.<attr>`` to `gm` itself and rename the graph's references."""
    from torch import nn

    inner = gm.get_submodule(attr)
    delattr(gm, attr)
    members = (
        list(inner._modules)
        + list(inner._parameters)
        + list(inner._buffers)
        + [name for name, value in vars(inner).items() if _is_tensor(value)]
    )
    clashes = sorted(name for name in members if hasattr(gm, name))
    if clashes:
        setattr(gm, attr, inner)  # leave the module as it was
        raise ExportInputError(
            f"the model has top-level attribute(s) {clashes} that a torch.fx.GraphModule uses for itself; "
            "the exported graph could not keep the model's parameter names"
        )

    for name, child in inner._modules.items():
        gm.add_module(name, child)
    for name, param in inner._parameters.items():
        gm.register_parameter(name, param)
    for name, buffer in inner._buffers.items():
        gm.register_buffer(name, buffer, persistent=name not in inner._non_persistent_buffers_set)
    for name, value in vars(inner).items():
        if _is_tensor(value) and not isinstance(value, nn.Parameter):
            setattr(gm, name, value)  # lifted tensor constants are plain attributes

    prefix = attr + "."
    for node in gm.graph.nodes:
        if node.op in ("get_attr", "call_module") and isinstance(node.target, str) and node.target.startswith(prefix):
            node.target = node.target[len(prefix) :]
        stack = node.meta.get("nn_module_stack")
        if stack:
            node.meta["nn_module_stack"] = _strip_module_stack(stack, attr)
    gm.recompile()


def _strip_module_stack(stack: dict, attr: str) -> dict:
    """Drop the wrapper's own frame and the wrapper prefix from the module paths."""
    prefix = attr + "."
    stripped = {}
    for key, (path, module_type) in stack.items():
        if path == "" and len(stack) > 1:
            continue  # the wrapper itself
        if path == attr:
            path = ""
        elif path.startswith(prefix):
            path = path[len(prefix) :]
        stripped[key] = (path, module_type)
    return stripped


def _is_tensor(value: object) -> bool:
    import torch

    return isinstance(value, torch.Tensor)
