"""Which checkpoint tensors may fill which model tensors: the one rule every loader applies.

Loading casts a checkpoint tensor to the dtype of the model tensor it fills. Within a kind
(floating point of any width, complex, integer/bool) a cast only changes precision; across kinds it
changes meaning (a float weight truncated to integers, integers read as weights, a complex value
losing its imaginary part), so it is refused, by the streaming loader and by the factory's own
checks alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def can_cast(source: torch.dtype, target: torch.dtype) -> bool:
    """Whether a checkpoint tensor of `source` dtype may be cast into a model tensor of `target` dtype."""
    return dtype_kind(source) == dtype_kind(target)


def dtype_kind(dtype: torch.dtype) -> str:
    """``"float"``, ``"complex"`` or ``"integer"`` (bool included)."""
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float"
    return "integer"
