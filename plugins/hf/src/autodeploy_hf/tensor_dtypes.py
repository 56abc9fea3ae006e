"""Which checkpoint dtypes can fill which model tensors.

Loaders cast a checkpoint tensor to the dtype of the model tensor it fills, and ``from_pretrained``
does so without a word: an int32 tensor where the model has a float32 weight loads as integers
turned floats, and a complex tensor loses its imaginary part. Neither is ever a real weight, so
validation refuses them before anything is loaded, by the core's one rule (`autodeploy.graph.can_cast`,
which the streaming loader applies too): a cast within a kind (float, complex, integer) is allowed,
one across kinds is not.

Dtypes are judged by name (``"int32"``, as checkpoint headers give them), so checking needs no
tensor data. This module imports torch only when a check runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import torch


def torch_dtype_named(name: str) -> Optional[torch.dtype]:
    """The torch dtype called `name` (``"bfloat16"``); None when this torch has no such dtype."""
    import torch

    found = getattr(torch, name, None)
    return found if isinstance(found, torch.dtype) else None


def dtype_fits(checkpoint_dtype: str, model_dtype: torch.dtype) -> bool:
    """Whether a checkpoint tensor of dtype `checkpoint_dtype` (a torch dtype name) can be cast into
    a model tensor of `model_dtype` without turning into something that is not a weight.

    A dtype torch does not know (a newer safetensors code) is let through: the loader itself is the
    better judge of it than a guess here.
    """
    found = torch_dtype_named(checkpoint_dtype)
    if found is None:
        return True
    from autodeploy.graph import can_cast

    return can_cast(found, model_dtype)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``: the way checkpoint headers name dtypes."""
    return str(dtype).removeprefix("torch.")
