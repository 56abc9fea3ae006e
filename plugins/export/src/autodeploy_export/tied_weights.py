"""Tied weights (e.g. ``lm_head.weight`` is ``model.embed_tokens.weight``) in the exported graph.

torch.export de-duplicates a tensor reachable under several names: the graph reads it through
*one* of the names (for the models we tried, the last one registered: ``lm_head.weight``), while
the GraphModule still registers all of them, as the same ``Parameter``. Two consequences:

- ``gm.state_dict()`` keeps every name, so a full checkpoint loads as before;
- a Hugging Face checkpoint of a tied model stores only one name (``save_pretrained`` drops
  ``lm_head.weight``), and ``load_state_dict(assign=True)`` replaces parameters one name at a
  time, which breaks the tie: the name the graph reads would stay on the meta device.

- the graph never reads the other names, so a graph cleanup (dead code elimination, then
  ``delete_all_unused_submodules``) deletes the submodule that held them (GPT-2's
  ``transformer.wte``), and with it a name the checkpoint uses.

- strict export (TorchDynamo) goes further and registers the tensor under one name only.

So the export

- registers every name of a group again where the GraphModule lacks it
  (`register_missing_tied_names`), so that strict and non-strict exports keep all names;
- makes each use read the tensor through its own module's name again (`read_tied_by_own_name`:
  the embedding reads ``transformer.wte.weight``, the head ``lm_head.weight``), found from the
  ``nn_module_stack`` torch.export records on each node; every name stays in use;
- records the groups of tied names in ``gm.meta[TIED_WEIGHTS_META_KEY]``;
- registers a ``load_state_dict`` pre-hook that, when a state dict brings some names of a group
  but not the others, fills the missing ones with the same tensor. Loads with ``assign=True``
  then give every name of the group the loaded storage, whichever name the checkpoint used.
  (The hook survives ``copy.deepcopy``; torch copies ``load_state_dict`` hooks along.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import fx, nn

TIED_WEIGHTS_META_KEY = "autodeploy_tied_weights"


def tied_tensor_groups(model: nn.Module) -> list[list[str]]:
    """Names (state-dict style) that refer to one and the same parameter or buffer, 2+ per group."""
    groups: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(parameter), []).append(name)
    for name, buffer in model.named_buffers(remove_duplicate=False):
        groups.setdefault(id(buffer), []).append(name)
    return [sorted(set(names)) for names in groups.values() if len(set(names)) > 1]


class TiedWeightsLoadHook:
    """``load_state_dict`` pre-hook: complete each tied group from whichever name was given.

    A class rather than a closure so that the GraphModule can still be deep-copied and pickled.
    """

    def __init__(self, groups: list[list[str]]):
        self.groups = [list(group) for group in groups]

    def __call__(self, module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        for group in self.groups:
            present = [name for name in group if prefix + name in state_dict]
            if not present:
                continue
            source = state_dict[prefix + present[0]]
            for name in group:
                state_dict.setdefault(prefix + name, source)


def install_tied_weights_load_hook(gm: nn.Module, groups: list[list[str]]) -> None:
    """Record `groups` in ``gm.meta`` and make ``gm.load_state_dict`` keep them tied."""
    if not groups:
        return
    existing = getattr(gm, "meta", None)
    meta: dict[str, Any] = existing if isinstance(existing, dict) else {}
    meta[TIED_WEIGHTS_META_KEY] = [list(group) for group in groups]
    setattr(gm, "meta", meta)  # noqa: B010 - GraphModule.meta; nn.Module's typing does not know it
    gm.register_load_state_dict_pre_hook(TiedWeightsLoadHook(groups))


def register_missing_tied_names(gm: nn.Module, groups: list[list[str]]) -> int:
    """Register the shared tensor under every name of its group that `gm` lacks; returns how many.

    Missing intermediate modules are created as empty containers, as torch.export does.
    """
    import torch

    added = 0
    for group in groups:
        present = [name for name in group if _lookup(gm, name) is not None]
        if not present or len(present) == len(group):
            continue
        tensor = _lookup(gm, present[0])
        for name in group:
            if name in present:
                continue
            owner_path, _, leaf = name.rpartition(".")
            owner = gm
            for part in owner_path.split(".") if owner_path else []:
                if owner._modules.get(part) is None:
                    owner.add_module(part, torch.nn.Module())
                owner = owner.get_submodule(part)
            if isinstance(tensor, torch.nn.Parameter):
                owner.register_parameter(leaf, tensor)
            else:
                owner.register_buffer(leaf, tensor)
            added += 1
    return added


def _lookup(gm: nn.Module, name: str):
    owner_path, _, leaf = name.rpartition(".")
    try:
        owner = gm.get_submodule(owner_path) if owner_path else gm
    except AttributeError:
        return None
    return owner._parameters.get(leaf, owner._buffers.get(leaf))


def read_tied_by_own_name(gm: fx.GraphModule, groups: list[list[str]]) -> int:
    """Point each user of a tied tensor at the name of its own module; returns uses moved.

    A use is moved only when the innermost module recorded for it owns one of the group's
    names; uses without that metadata keep reading the name export chose.
    """
    owner_of = {name.rpartition(".")[0]: name for group in groups for name in group}
    group_of = {name: group for group in groups for name in group}
    readers = {node.target: node for node in gm.graph.find_nodes(op="get_attr") if node.target in group_of}
    moved = 0
    for target, node in list(readers.items()):
        for user in list(node.users):
            path = _innermost_module_path(user)
            wanted = owner_of.get(path) if path is not None else None
            if wanted is None or wanted == target or wanted not in group_of[target]:
                continue
            reader = readers.get(wanted)
            if reader is None:
                with gm.graph.inserting_after(node):
                    reader = gm.graph.get_attr(wanted)
                reader.meta.update(node.meta)
                readers[wanted] = reader
            user.replace_input_with(node, reader)
            moved += 1
    if moved:
        gm.recompile()
    return moved


def _innermost_module_path(node: fx.Node) -> str | None:
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return None
    path, _ = list(stack.values())[-1]
    return path
