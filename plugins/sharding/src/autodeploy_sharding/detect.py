"""Find the tensor-parallel groups of a graph: from its structure, or from a plan by module names.

The structural rule (``heuristic``): a linear layer is split by columns when everything computed
from its output reaches exactly one other linear layer and nothing else (q, k and v reach only o;
gate and up reach only down), and that layer is split by rows when the linear layers its input
comes from are exactly that set. Embeddings, the residual stream and ``lm_head`` never qualify, so
they stay replicated. A plan (``factory``: the Hugging Face config's ``base_model_tp_plan``;
``manual``: the config's own) names the styles by module-name patterns instead; its column and row
layers are paired by the same reachability.

The SwiGLU MLP arrives here as one op (``match_swiglu_pattern`` runs in the pattern_matcher
stage, before this one): its gate and up weights are split by columns and its down weight by rows
as one group (see `fused_mlp`), by the heuristic and by plans naming its three layers so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Optional

import torch
from torch import fx

from autodeploy import ConfigError
from autodeploy.graph import node_arg

from .fused_mlp import layer_names, swiglu_nodes, tensor_names, weight_name
from .plan import ShardingPlan, SplitLinear, SplitStyle, TPGroup

logger = logging.getLogger(__name__)

_LINEAR_TARGETS = (torch.ops.aten.linear.default,)
_PLAN_STYLES: Mapping[str, Optional[SplitStyle]] = {
    "colwise": "colwise",
    "local_colwise": "colwise",
    "colwise_rep": "gather",
    "gather": "gather",
    "rowwise": "rowwise",
    "local_rowwise": "rowwise",
    "rowwise_rep": "rowwise",
    "replicate": None,
    "local": None,
}


def linear_nodes(gm: fx.GraphModule) -> list[fx.Node]:
    """Linear layers whose weight (and bias) are the graph's own tensors (``get_attr``)."""
    found = []
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in _LINEAR_TARGETS:
            weight = node.args[1]
            bias = node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")
            if isinstance(weight, fx.Node) and weight.op == "get_attr":
                if bias is None or (isinstance(bias, fx.Node) and bias.op == "get_attr"):
                    found.append(node)
    return found


def _weight_target(linear: fx.Node) -> str:
    """The weight tensor's name of a layer from `linear_nodes` (whose weight is a ``get_attr`` node)."""
    weight = node_arg(linear, 1)
    if weight is None:
        raise TypeError(f"`{linear.name}` is not a linear layer of linear_nodes: its weight is not a graph node")
    return str(weight.target)


def as_split(node: fx.Node, style: SplitStyle) -> SplitLinear:
    bias = node_arg(node, 2, "bias")  # a get_attr node or absent (linear_nodes)
    return SplitLinear(node.name, _weight_target(node), str(bias.target) if bias is not None else None, style)


def downstream_linears(node: fx.Node, linears: set[fx.Node]) -> tuple[set[fx.Node], bool]:
    """The linear layers reached from `node`'s output (stopping at them), and whether the output is."""
    reached: set[fx.Node] = set()
    reaches_output = False
    seen: set[fx.Node] = set()
    stack = list(node.users)
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in linears:
            reached.add(current)
        elif current.op == "output" or _holds_matrix(current):
            # the output, or an op with weights of its own (e.g. a fused MLP op): a split may not cross it
            reaches_output = True
        else:
            stack.extend(current.users)
    return reached, reaches_output


def _holds_matrix(node: fx.Node) -> bool:
    """A call other than a linear layer that reads a 2-D (or larger) weight of the graph."""
    if node.op != "call_function":
        return False
    for arg in node.all_input_nodes:
        if arg.op == "get_attr":
            if len(_attr_shape(arg)) >= 2 and node.target is not torch.ops.aten.embedding.default:
                return True
    return False


def _attr_shape(arg: fx.Node) -> tuple[int, ...]:
    """The shape of the tensor a ``get_attr`` node reads: its recorded value's, else the module's
    attribute's (``()`` when neither is there)."""
    shape = getattr(arg.meta.get("val"), "shape", None)
    if shape is not None:
        return tuple(shape)
    owner_name, _, attr = str(arg.target).rpartition(".")
    graph_module = arg.graph.owning_module
    if graph_module is None:
        return ()
    owner = graph_module.get_submodule(owner_name) if owner_name else graph_module
    return tuple(getattr(getattr(owner, attr, None), "shape", ()))


def upstream_linears(node: fx.Node, linears: set[fx.Node]) -> set[fx.Node]:
    """The linear layers `node`'s activation input comes from (stopping at them)."""
    reached: set[fx.Node] = set()
    seen: set[fx.Node] = set()
    stack = [node.args[0]] if isinstance(node.args[0], fx.Node) else []
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in linears:
            reached.add(current)
        elif current.op not in ("placeholder", "get_attr"):
            stack.extend(current.all_input_nodes)
    return reached


def fused_mlp_group(node: fx.Node, source: str) -> TPGroup:
    """The SwiGLU op as a group: gate and up split by columns, down by rows, all in one node."""
    names = tensor_names(node)

    def split(part: str, style: SplitStyle) -> SplitLinear:
        return SplitLinear(node.name, weight_name(node, part), names[f"{part}_bias"], style)

    return TPGroup((split("gate", "colwise"), split("up", "colwise")), split("down", "rowwise"), source, fused=True)


def fused_mlp_gather(node: fx.Node) -> SplitLinear:
    """The simple split of a SwiGLU op: its down product by columns, gathered after the op."""
    return SplitLinear(node.name, weight_name(node, "down"), tensor_names(node)["down_bias"], "gather")


def heuristic_groups(gm: fx.GraphModule, exclude: set[str]) -> list[TPGroup]:
    """Column/row groups found from the graph's structure alone (see the module docstring)."""
    linears = linear_nodes(gm)
    linear_set = set(linears)
    by_row: dict[fx.Node, list[fx.Node]] = {}
    for node in linears:
        reached, reaches_output = downstream_linears(node, linear_set)
        if len(reached) == 1 and not reaches_output:
            by_row.setdefault(next(iter(reached)), []).append(node)
    groups = []
    for row, columns in by_row.items():
        if upstream_linears(row, linear_set) != set(columns):
            continue  # the row layer also reads something computed elsewhere: not a clean pair
        if row.name in exclude or any(column.name in exclude for column in columns):
            continue
        groups.append(
            TPGroup(tuple(as_split(column, "colwise") for column in columns), as_split(row, "rowwise"), "heuristic")
        )
    groups.extend(fused_mlp_group(node, "heuristic") for node in swiglu_nodes(gm) if node.name not in exclude)
    return groups


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = [r"[^.]+" if part == "*" else re.escape(part) for part in pattern.split(".")]
    return re.compile(r"(?:^|.*\.)" + r"\.".join(parts) + r"$")


def plan_groups(
    gm: fx.GraphModule, tp_plan: Mapping[str, str], source: str, exclude: set[str]
) -> tuple[list[TPGroup], list[SplitLinear], list[str]]:
    """Groups and gathers named by a ``{module pattern: style}`` plan; also the layers it replicates."""
    compiled = []
    for pattern, style_name in tp_plan.items():
        if style_name not in _PLAN_STYLES:
            raise ConfigError(
                f"{source} sharding plan: style {style_name!r} for {pattern!r} is not one of {sorted(_PLAN_STYLES)}"
            )
        compiled.append((_pattern_regex(pattern), _PLAN_STYLES[style_name]))
    linears = linear_nodes(gm)
    linear_set = set(linears)
    styles: dict[fx.Node, Optional[SplitStyle]] = {}
    for node in linears:
        if node.name in exclude:
            continue
        layer = _weight_target(node).rsplit(".", 1)[0]
        for regex, style in compiled:
            if regex.match(layer):
                styles[node] = style
                break
    rows = [node for node, style in styles.items() if style == "rowwise"]
    groups = []
    for row in rows:
        columns = upstream_linears(row, linear_set)
        if not columns or any(styles.get(column) != "colwise" for column in columns):
            named = ", ".join(sorted(_weight_target(c).rsplit(".", 1)[0] for c in columns)) or "none"
            raise ConfigError(
                f"{source} sharding plan: {_weight_target(row).rsplit('.', 1)[0]} is 'rowwise' but the layers "
                f"feeding it ({named}) are not all 'colwise'"
            )
        groups.append(TPGroup(tuple(as_split(c, "colwise") for c in columns), as_split(row, "rowwise"), source))
    paired = {linear.node for group in groups for linear in (*group.columns, group.row)}
    for node, style in styles.items():
        if style == "colwise" and node.name not in paired:
            raise ConfigError(
                f"{source} sharding plan: {_weight_target(node).rsplit('.', 1)[0]} is 'colwise' but no "
                "'rowwise' layer takes its output"
            )
    gathers = [as_split(node, "gather") for node, style in styles.items() if style == "gather"]
    replicated = [_weight_target(node) for node, style in styles.items() if style is None]
    for node in swiglu_nodes(gm):
        if node.name in exclude:
            continue
        fused = _fused_mlp_from_plan(node, compiled, source)
        if isinstance(fused, TPGroup):
            groups.append(fused)
        else:
            replicated.extend(fused)
    return groups, gathers, replicated


_FUSED_MLP_PLAN = {"gate": "colwise", "up": "colwise", "down": "rowwise"}


def _fused_mlp_from_plan(
    node: fx.Node, compiled: list[tuple[re.Pattern[str], Optional[SplitStyle]]], source: str
) -> TPGroup | list[str]:
    """A SwiGLU op's group if the plan splits its layers as a pair, the weights it replicates if it
    keeps them whole (nothing if it does not name them); any other mix cannot split one op."""
    named: dict[str, Optional[SplitStyle]] = {}
    layers = layer_names(node)
    for part, layer in layers.items():
        for regex, style in compiled:
            if regex.match(layer):
                named[part] = style
                break
    if not named:
        return []
    if named == _FUSED_MLP_PLAN:
        return fused_mlp_group(node, source)
    if all(style is None for style in named.values()):
        return [weight_name(node, part) for part in named]
    given = ", ".join(f"{layers[part]}: {named.get(part) or 'not named'}" for part in layers)
    raise ConfigError(
        f"{source} sharding plan: {layers['gate'].rsplit('.', 1)[0]} is one fused SwiGLU op (match_swiglu_pattern), "
        f"which splits only as gate_proj and up_proj 'colwise' with down_proj 'rowwise' (or stays whole); "
        f"the plan gives {given}"
    )


def simple_shards(gm: fx.GraphModule, exclude: set[str]) -> list[SplitLinear]:
    gathers = [as_split(node, "gather") for node in linear_nodes(gm) if node.name not in exclude]
    return gathers + [fused_mlp_gather(node) for node in swiglu_nodes(gm) if node.name not in exclude]


def detect(
    gm: fx.GraphModule,
    *,
    rank: int,
    world_size: int,
    sources: Iterable[str],
    plans: Mapping[str, Mapping[str, str]],
    simple_shard_only: bool,
    support_partial_config: bool,
    shard_all_unprocessed: bool,
) -> ShardingPlan:
    """The sharding plan of `gm` for this rank: sources tried in order (see the config's fields)."""
    plan = ShardingPlan(rank=rank, world_size=world_size)
    if simple_shard_only:
        plan.gathers = simple_shards(gm, set())
        return plan
    for source in sources:
        taken = plan.assigned_nodes() | _replicated_nodes(gm, plan)
        if source == "heuristic":
            plan.groups.extend(heuristic_groups(gm, taken))
        elif source in plans and plans[source]:
            groups, gathers, replicated = plan_groups(gm, plans[source], source, taken)
            plan.groups.extend(groups)
            plan.gathers.extend(gathers)
            plan.replicated.extend(replicated)
        else:
            continue
        if plan.groups and not support_partial_config:
            break
    if shard_all_unprocessed:
        plan.gathers.extend(simple_shards(gm, plan.assigned_nodes() | _replicated_nodes(gm, plan)))
    return plan


def _replicated_nodes(gm: fx.GraphModule, plan: ShardingPlan) -> set[str]:
    replicated = set(plan.replicated)
    names = {node.name for node in linear_nodes(gm) if _weight_target(node) in replicated}
    for node in swiglu_nodes(gm):
        if any(weight_name(node, part) in replicated for part in ("gate", "up", "down")):
            names.add(node.name)
    return names
