"""Small facts about fx nodes that every matcher here needs: which op a node calls, who reads
it (not counting export's metadata assertions), what tensor a ``get_attr`` names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Optional, TypeGuard

if TYPE_CHECKING:
    import torch
    from torch import fx

ASSERT_METADATA = "aten._assert_tensor_metadata.default"
CASTS = ("aten.to.dtype", "aten._to_copy.default", "aten.type_as.default", "aten.to.dtype_layout")


def target_name(node: Any) -> str:
    """``aten.mul.Tensor`` for a node calling that overload; "" for anything else."""
    from torch import fx

    if not isinstance(node, fx.Node) or node.op != "call_function":
        return ""
    return str(node.target)


def is_call(node: Any, *names: str) -> TypeGuard[fx.Node]:
    """Whether `node` is a graph node calling one of the ops `names` (False for anything else: a
    constant, a list, None), so that a matcher may read its ``args`` after checking."""
    return target_name(node) in names


def readers(node: fx.Node) -> list[fx.Node]:
    """The nodes that read `node`, without export's ``_assert_tensor_metadata`` checks."""
    return [user for user in node.users if target_name(user) != ASSERT_METADATA]


def drop_metadata_assertions(node: fx.Node) -> None:
    """Erase the metadata assertions on `node`: they would keep a replaced chain alive."""
    for user in list(node.users):
        if target_name(user) == ASSERT_METADATA:
            node.graph.erase_node(user)


def attr_tensor(gm: fx.GraphModule, node: Any) -> Optional[torch.Tensor]:
    """The parameter or buffer a ``get_attr`` node reads, or None."""
    from torch import fx

    if not isinstance(node, fx.Node) or node.op != "get_attr":
        return None
    owner_name, _, leaf = str(node.target).rpartition(".")
    try:
        owner = gm.get_submodule(owner_name) if owner_name else gm
    except AttributeError:
        return None
    value = getattr(owner, leaf, None)
    import torch

    return value if isinstance(value, torch.Tensor) else None


def attr_tensors(gm: fx.GraphModule, nodes: Iterable[Any]) -> Optional[list[torch.Tensor]]:
    """The tensors the ``get_attr`` nodes `nodes` read (see `attr_tensor`), or None if any is not one."""
    tensors = []
    for node in nodes:
        tensor = attr_tensor(gm, node)
        if tensor is None:
            return None
        tensors.append(tensor)
    return tensors


def strip_casts(node: Any) -> Any:
    """Follow dtype casts (``x.to(float32)`` and friends) back to their source."""
    while is_call(node, *CASTS) and node.args:
        node = node.args[0]
    return node


def linear_parts(node: fx.Node) -> tuple[Any, Any, Any]:
    """``(input, weight, bias)`` of an ``aten.linear`` node (bias None when absent)."""
    args = list(node.args) + [None] * (3 - len(node.args))
    bias = node.kwargs.get("bias", args[2])
    return args[0], args[1], bias


def stable_topological_sort(gm: fx.GraphModule) -> None:
    """Reorder `gm`'s graph so that every node comes after its inputs, moving as little as possible.

    A rewrite that puts a fused node where the last of its parts was may leave earlier readers of
    a replaced value before its new definition; this delays exactly those readers. The graph is
    rebuilt in the new order (same nodes, names, metadata and calling convention).
    """
    import copy
    import warnings

    from torch import fx

    graph = gm.graph
    order: list[fx.Node] = []
    done: set[fx.Node] = set()
    waiting: dict[fx.Node, list[fx.Node]] = {}  # an undefined input -> nodes waiting for it

    def ready(node: fx.Node) -> bool:
        missing = next((arg for arg in node.all_input_nodes if arg not in done), None)
        if missing is None:
            return True
        waiting.setdefault(missing, []).append(node)
        return False

    def emit(node: fx.Node) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            if current in done:
                continue
            order.append(current)
            done.add(current)
            for waiter in waiting.pop(current, []):
                if waiter not in done and ready(waiter):
                    stack.append(waiter)

    nodes = list(graph.nodes)
    for node in nodes:
        if node not in done and ready(node):
            emit(node)
    if len(order) != len(nodes):
        raise RuntimeError("graph has a cycle: cannot order its nodes")
    if order == nodes:
        return
    new_graph = fx.Graph(owning_module=gm, tracer_cls=graph._tracer_cls)
    with warnings.catch_warnings():
        # torch's pytree specs warn about their own deprecated classes when copied: not the user's concern
        warnings.simplefilter("ignore", FutureWarning)
        new_graph._codegen = copy.deepcopy(graph._codegen)
    env: dict[fx.Node, fx.Node] = {}
    for node in order:
        env[node] = new_graph.node_copy(node, lambda arg: env[arg])
    gm.graph = new_graph
