"""Rewrite the linears of a graph on meta into quantised linears whose weights load from a GGUF
file's blocks (``quantize_gguf_linear_from_config``).

Before the weights are loaded, each ``aten.linear`` (and each ``autodeploy::torch_swiglu_mlp``,
split back into its three products) whose weight the file stores quantised becomes
``int8_weight_linear`` or ``int4_weight_linear`` with meta buffers of the quantised layout, the
float weight is dropped, and a `WeightConversion` tells the loader how the file's tensor fills
those buffers: from its blocks as stored (Q8_0, Q4_0, Q4_1; see `gguf_blocks`), or, for other
block types, from that one tensor de-quantised and quantised again. The model never exists in
floating point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from .linear_rewrite import excluded

if TYPE_CHECKING:
    import torch
    from torch import fx

    from autodeploy.weight_conversions import CheckpointTensor

LINEAR = "aten.linear.default"
SWIGLU = "autodeploy.torch_swiglu_mlp.default"
FLOAT_TYPES = ("F32", "F16", "BF16", "F64")
Q4_TYPES = ("Q4_0", "Q4_1")
GROUP = 32


@dataclass
class GGUFRewrite:
    layers: int = 0
    bytes_before: int = 0  # of the weights in the graph's float dtype
    bytes_after: int = 0
    by_type: dict[str, int] = field(default_factory=dict)  # GGUF type -> layers
    by_format: dict[str, int] = field(default_factory=dict)  # "int8" / "int4" -> layers
    kept_float: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Targets:
    """Which op each GGUF type goes to."""

    q8_0: str = "int8"
    q4: str = "int4"
    other: str = "int8"
    int8_backend: str = "int8pack"
    int4_backend: str = "int4pack"
    device: str = "cpu"  # where the weights will live (picks the 4-bit scales' dtype)

    def format_of(self, gguf_type: str) -> Optional[str]:
        if gguf_type in FLOAT_TYPES:
            return None
        choice = self.q8_0 if gguf_type == "Q8_0" else self.q4 if gguf_type in Q4_TYPES else self.other
        return None if choice == "float" else choice


def _owner(gm: fx.GraphModule, target: str) -> tuple[Any, str, str]:
    owner_name, _, leaf = target.rpartition(".")
    return (gm.get_submodule(owner_name) if owner_name else gm), owner_name, leaf


def _tensor(gm: fx.GraphModule, node: Any) -> Optional[torch.Tensor]:
    import torch

    if not isinstance(node, torch.fx.Node) or node.op != "get_attr":
        return None
    owner, _, leaf = _owner(gm, str(node.target))
    value = getattr(owner, leaf, None)
    return value if isinstance(value, torch.Tensor) else None


def _shared_names(gm: fx.GraphModule) -> set[str]:
    """Names of tensors that have several names (tied weights): left in floating point."""
    by_id: dict[int, list[str]] = {}
    for name, tensor in list(gm.named_parameters(remove_duplicate=False)) + list(
        gm.named_buffers(remove_duplicate=False)
    ):
        by_id.setdefault(id(tensor), []).append(name)
    return {name for names in by_id.values() if len(names) > 1 for name in names}


def _int8_conversion(targets: tuple[str, str], shape: tuple[int, int]):
    from autodeploy.ops import quantize_int8_per_channel

    from .gguf_blocks import q8_0_to_int8_per_channel

    def convert(source: CheckpointTensor) -> dict[str, torch.Tensor]:
        blocks = source.quantized
        if blocks is not None and blocks.kind == "gguf:Q8_0":
            q, scale = q8_0_to_int8_per_channel(blocks.data, tuple(blocks.shape))
        else:
            q, scale = quantize_int8_per_channel(source.read())
        return {targets[0]: q, targets[1]: scale}

    return convert


def _int4_conversion(targets: tuple[str, str], dtype: torch.dtype):
    from autodeploy.ops import pack_int4, quantize_int4_groupwise

    from .gguf_blocks import q4_to_groups

    def convert(source: CheckpointTensor) -> dict[str, torch.Tensor]:
        blocks = source.quantized
        if blocks is not None and blocks.kind.removeprefix("gguf:") in Q4_TYPES:
            q, scale, zero = q4_to_groups(blocks.data, blocks.kind.removeprefix("gguf:"), tuple(blocks.shape))
        else:
            q, scale, zero = quantize_int4_groupwise(source.read(), GROUP)
        packed, scales_and_zeros = pack_int4(q, scale, zero, dtype)
        return {targets[0]: packed, targets[1]: scales_and_zeros}

    return convert


class _Rewriter:
    def __init__(self, gm: fx.GraphModule, tensor_types: dict[str, str], targets: Targets, exclude: Sequence[str]):
        self.gm = gm
        self.types = tensor_types
        self.targets = targets
        self.exclude = exclude
        self.shared = _shared_names(gm)
        self.result = GGUFRewrite()
        self.done: dict[str, tuple[str, dict[str, str]]] = {}  # weight name -> (format, buffer names)

    def plan(self, weight_node: Any) -> Optional[str]:
        """The format `weight_node`'s tensor loads into, or None to keep it float."""
        weight = _tensor(self.gm, weight_node)
        if weight is None or weight.dim() != 2 or not weight.is_floating_point():
            return None
        name = str(weight_node.target)
        if name in self.done:
            return self.done[name][0]
        gguf_type = self.types.get(name)
        fmt = self.targets.format_of(gguf_type) if gguf_type is not None else None
        if fmt is None:
            return None
        if excluded(name, self.exclude) or name in self.shared or (fmt == "int4" and weight.shape[1] % GROUP):
            if name not in self.result.kept_float:
                self.result.kept_float.append(name)
            return None
        return fmt

    def buffers(self, weight_node: Any, fmt: str) -> dict[str, str]:
        """Register the quantised meta buffers of `weight_node`'s tensor (once) and its conversion."""
        import torch

        from autodeploy.ops import int4_scales_dtype
        from autodeploy.weight_conversions import WeightConversion, set_weight_conversion

        name = str(weight_node.target)
        if name in self.done:
            return self.done[name][1]
        weight = _tensor(self.gm, weight_node)
        if weight is None:  # plan() returned a format, so this does not happen
            raise TypeError(f"{name} is not a tensor of the graph: plan() should have kept it float")
        out_features, in_features = weight.shape
        owner, owner_name, leaf = _owner(self.gm, name)
        scales_dtype = int4_scales_dtype(weight.dtype, self.targets.device)  # the 4-bit kernel's (bf16 on CPU)
        if fmt == "int8":
            layout = {
                "q": torch.empty(out_features, in_features, dtype=torch.int8, device="meta"),
                "scale": torch.empty(out_features, dtype=torch.float32, device="meta"),
            }
        else:
            layout = {
                "q4": torch.empty(out_features, in_features // 2, dtype=torch.uint8, device="meta"),
                "scales_zeros": torch.empty(in_features // GROUP, out_features, 2, dtype=scales_dtype, device="meta"),
            }
        names = {}
        for suffix, tensor in layout.items():
            owner.register_buffer(f"{leaf}_{suffix}", tensor, persistent=True)
            names[suffix] = f"{owner_name}.{leaf}_{suffix}" if owner_name else f"{leaf}_{suffix}"
        first_name, second_name = names.values()
        pair = (first_name, second_name)
        convert = (
            _int8_conversion(pair, (out_features, in_features))
            if fmt == "int8"
            else _int4_conversion(pair, scales_dtype)
        )
        set_weight_conversion(
            self.gm,
            name,
            WeightConversion(targets=pair, convert=convert, description=f"GGUF {self.types[name]} -> {fmt}"),
        )
        self.done[name] = (fmt, names)
        gguf_type = self.types[name]
        self.result.layers += 1
        self.result.by_type[gguf_type] = self.result.by_type.get(gguf_type, 0) + 1
        self.result.by_format[fmt] = self.result.by_format.get(fmt, 0) + 1
        self.result.bytes_before += weight.numel() * weight.element_size()
        self.result.bytes_after += sum(t.numel() * t.element_size() for t in layout.values())
        return names

    def quantized_linear(self, x: Any, weight_node: Any, bias: Any, fmt: str) -> Any:
        """A quantised linear node (inserted at the graph's current insertion point)."""
        import torch

        names = self.buffers(weight_node, fmt)
        graph = self.gm.graph
        nodes = {suffix: graph.get_attr(target) for suffix, target in names.items()}
        args: tuple[Any, ...]
        if fmt == "int8":
            op = torch.ops.autodeploy.int8_weight_linear.default
            args = (x, nodes["q"], nodes["scale"], bias, self.targets.int8_backend)
        else:
            op = torch.ops.autodeploy.int4_weight_linear.default
            args = (x, nodes["q4"], nodes["scales_zeros"], GROUP, bias, self.targets.int4_backend)
        return graph.call_function(op, args)

    def rewrite_linear(self, node: Any) -> bool:
        args = list(node.args) + [None] * (3 - len(node.args))
        x, weight_node, bias = args[0], args[1], node.kwargs.get("bias", args[2])
        fmt = self.plan(weight_node)
        if fmt is None:
            return False
        with self.gm.graph.inserting_before(node):
            new = self.quantized_linear(x, weight_node, bias, fmt)
        self._replace(node, new)
        return True

    def rewrite_swiglu(self, node: Any) -> bool:
        import torch

        args = list(node.args) + [None] * (7 - len(node.args))
        x, gate_w, up_w, down_w, gate_b, up_b, down_b = args[:7]
        gate_fmt, up_fmt, down_fmt = (self.plan(w) for w in (gate_w, up_w, down_w))
        if gate_fmt is None or up_fmt is None or down_fmt is None:
            return False
        aten = torch.ops.aten
        with self.gm.graph.inserting_before(node):
            gate = self.quantized_linear(x, gate_w, gate_b, gate_fmt)
            up = self.quantized_linear(x, up_w, up_b, up_fmt)
            hidden = self.gm.graph.call_function(
                aten.mul.Tensor, (self.gm.graph.call_function(aten.silu.default, (gate,)), up)
            )
            new = self.quantized_linear(hidden, down_w, down_b, down_fmt)
        self._replace(node, new)
        return True

    def _replace(self, node: Any, new: Any) -> None:
        if "val" in node.meta:
            new.meta["val"] = node.meta["val"]
        weights = [a for a in node.args if hasattr(a, "op") and a.op == "get_attr"]
        node.replace_all_uses_with(new)
        self.gm.graph.erase_node(node)
        for weight_node in weights:
            self._drop_if_unused(weight_node)

    def _drop_if_unused(self, node: Any) -> None:
        if node.users:
            return
        target = str(node.target)
        self.gm.graph.erase_node(node)
        if target not in self.done or any(n.op == "get_attr" and str(n.target) == target for n in self.gm.graph.nodes):
            return
        owner, _, leaf = _owner(self.gm, target)
        owner._parameters.pop(leaf, None)
        owner._buffers.pop(leaf, None)


def rewrite_for_gguf(
    gm: fx.GraphModule, tensor_types: dict[str, str], targets: Targets, exclude: Sequence[str]
) -> GGUFRewrite:
    """Rewrite `gm`'s linears whose weights `tensor_types` names as quantised; see the module docstring."""
    import autodeploy.ops  # noqa: F401 - registers the ops

    rewriter = _Rewriter(gm, tensor_types, targets, exclude)
    for node in list(gm.graph.nodes):
        if node.op != "call_function":
            continue
        if str(node.target) == LINEAR:
            rewriter.rewrite_linear(node)
        elif str(node.target) == SWIGLU:
            rewriter.rewrite_swiglu(node)
    if rewriter.result.layers:
        gm.graph.eliminate_dead_code()
        gm.graph.lint()
        gm.recompile()
    return rewriter.result
