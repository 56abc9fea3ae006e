"""Let an exported GraphModule be called with its inputs by position or by keyword.

``ExportedProgram.module()`` checks each call against the exact form used at export: a graph
exported with ``input_ids=...`` refuses ``gm(ids)`` (and one exported with ``(ids,)`` refuses
``gm(input_ids=ids)``) with "Ran into a kwarg keyword mismatch", although its ``forward`` takes
either. Callers differ (Hugging Face code passes keywords, a pipeline container passes
``*args``), so `PositionalOrKeywordHook` runs before torch's check and rewrites the call into
the exported form, by the argument names of the graph's signature. A graph that takes
``position_ids`` may be called without them: a call then covers whole sequences from their
start, positions ``0..L-1`` (what an uncached caller such as ``run --check`` means).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import torch

if TYPE_CHECKING:
    from torch import fx

IDS = "input_ids"
POSITIONS = "position_ids"


def default_position_ids(input_ids: torch.Tensor) -> torch.Tensor:
    """Positions ``0..L-1`` for every row of `input_ids` (a whole sequence from its start)."""
    batch, length = input_ids.shape[0], input_ids.shape[-1]
    return torch.arange(length, dtype=torch.long, device=input_ids.device).expand(batch, length)


class PositionalOrKeywordHook:
    """Forward pre-hook (``with_kwargs=True``): bind the call to the graph's argument names and
    split it into the positional and keyword parts the input spec expects.

    Leaves a call it cannot bind (too many arguments, a name given twice, a missing input) as
    it is, so that torch's own check reports it.
    """

    def __call__(self, gm: fx.GraphModule, args: tuple, kwargs: dict) -> Optional[tuple[tuple, dict]]:
        layout = _input_layout(gm)
        if layout is None:
            return None
        names, num_positional, keyword_names = layout
        if len(args) > len(names) or any(name in kwargs for name in names[: len(args)]):
            return None
        bound: dict[str, Any] = dict(zip(names, args, strict=False))
        bound.update(kwargs)
        if POSITIONS not in bound and POSITIONS in names and isinstance(bound.get(IDS), torch.Tensor):
            bound[POSITIONS] = default_position_ids(bound[IDS])
        if set(bound) != set(names):
            return None
        new_args = tuple(bound[name] for name in names[:num_positional])
        new_kwargs = {key: bound[name] for key, name in zip(keyword_names, names[num_positional:], strict=True)}
        return new_args, new_kwargs


def _input_layout(gm: fx.GraphModule) -> Optional[tuple[list[str], int, list[str]]]:
    """(argument names, how many go by position, the spec's keyword names) or None."""
    from torch.fx.graph import _PyTreeCodeGen

    codegen = gm.graph._codegen
    info = getattr(codegen, "pytree_info", None) if isinstance(codegen, _PyTreeCodeGen) else None
    if info is None or info.in_spec is None:
        return None
    spec = info.in_spec
    if not (
        spec.type is tuple and spec.num_children == 2 and spec.child(0).type is tuple and spec.child(1).type is dict
    ):
        return None
    names = list(info.orig_args)
    num_positional = spec.child(0).num_children
    keyword_names = list(spec.child(1).context)
    if len(names) != num_positional + len(keyword_names):
        return None
    return names, num_positional, keyword_names


def accept_positional_or_keyword_inputs(gm: fx.GraphModule) -> None:
    """Install `PositionalOrKeywordHook` ahead of torch's input check."""
    gm.register_forward_pre_hook(PositionalOrKeywordHook(), with_kwargs=True, prepend=True)
