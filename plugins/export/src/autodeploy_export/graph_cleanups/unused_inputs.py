"""Remove graph inputs (placeholders) that nothing reads.

Removing an input changes how the GraphModule is called: its ``forward`` no longer takes that
argument, and passing it raises a ``TypeError`` (or torch's input check complains). Inputs that
are used, ``input_ids`` among them, keep their names and positions relative to each other, so
``gm(input_ids=...)`` and ``gm(ids)`` keep working.

GraphModules from ``ExportedProgram.module()`` flatten their inputs with a pytree spec
(``fx_pytree.tree_flatten_spec((args, kwargs), self._in_spec)``); their ``forward`` signature and
``_in_spec`` are updated together, so calls keep being checked against the new inputs. Such an
input is removed only as a whole top-level argument: a nested one (a tuple or dict argument
whose leaves are partly unused) is kept, because dropping a leaf would change the structure the
caller passes. A ``_guards_fn`` call (``module(check_guards=True)``) reads every input, so in such
graphs nothing counts as unused; ``export_to_gm`` exports with ``check_guards=False``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from torch import fx

logger = logging.getLogger(__name__)


def remove_unused_inputs(gm: fx.GraphModule) -> int:
    """Erase the placeholders of `gm` that have no users; returns how many."""
    from torch.fx.graph import _PyTreeCodeGen

    placeholders = list(gm.graph.find_nodes(op="placeholder"))
    unused = [node for node in placeholders if not node.users]
    if not unused:
        return 0

    codegen = gm.graph._codegen
    if isinstance(codegen, _PyTreeCodeGen) and codegen.pytree_info is not None:
        plan = _plan_pytree_removal(placeholders, codegen.pytree_info)
        if plan is None:
            return 0
        to_remove, new_info = plan
        codegen.pytree_info = new_info
    else:
        to_remove = unused  # plain forward(self, <one argument per placeholder>)

    for node in to_remove:
        gm.graph.erase_node(node)
    if to_remove:
        gm.graph.lint()
        gm.recompile()
    return len(to_remove)


def _plan_pytree_removal(placeholders: list[fx.Node], info: Any) -> Optional[tuple[list[fx.Node], Any]]:
    """Which placeholders can go as whole top-level arguments, and the pytree info without them."""
    from torch.utils import _pytree as pytree

    in_spec, orig_args = info.in_spec, list(info.orig_args)
    if in_spec is None or (orig_args and orig_args[0] == "self"):
        return None
    if in_spec.num_leaves != len(placeholders):
        logger.warning(
            "cleanup_unused_inputs: input spec has %d leaves but the graph %d inputs; left as is",
            in_spec.num_leaves,
            len(placeholders),
        )
        return None

    structure = pytree.tree_unflatten(list(range(in_spec.num_leaves)), in_spec)
    has_kwargs = (
        isinstance(structure, tuple)
        and len(structure) == 2
        and isinstance(structure[0], tuple)
        and isinstance(structure[1], dict)
    )
    args, kwargs = structure if has_kwargs else (tuple(structure), {})
    if len(orig_args) != len(args) + len(kwargs):
        return None

    def unused(entry: Any) -> bool:
        leaves = pytree.tree_leaves(entry)
        return bool(leaves) and all(not placeholders[index].users for index in leaves)

    keep_args = [i for i, entry in enumerate(args) if not unused(entry)]
    keep_kwargs = [key for key in kwargs if not unused(kwargs[key])]
    if len(keep_args) == len(args) and len(keep_kwargs) == len(kwargs):
        return [], info  # the unused leaves are inside nested arguments

    new_args = tuple(args[i] for i in keep_args)
    new_kwargs = {key: kwargs[key] for key in keep_kwargs}
    kept_leaves = set(pytree.tree_leaves((new_args, new_kwargs)))
    to_remove = [node for index, node in enumerate(placeholders) if index not in kept_leaves]

    kwarg_names = dict(zip(kwargs, orig_args[len(args) :], strict=True))
    new_orig_args = [orig_args[i] for i in keep_args] + [kwarg_names[key] for key in keep_kwargs]
    if has_kwargs:
        new_spec = pytree.tree_structure((new_args, new_kwargs))
    else:
        new_spec = pytree.tree_structure(
            type(structure)(new_args) if isinstance(structure, (tuple, list)) else new_args
        )
    return to_remove, info._replace(orig_args=new_orig_args, in_spec=new_spec)
