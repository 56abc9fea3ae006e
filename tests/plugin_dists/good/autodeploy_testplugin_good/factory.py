"""`HelloFactory`: a tiny linear model whose "checkpoint" sets every weight to one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodeploy import ModelFactory

if TYPE_CHECKING:
    from torch import nn


class HelloFactory(ModelFactory):
    """Builds `torch.nn.Linear(4, 4)`; torch is imported only when a model is built."""

    def _build_model(self, device: str) -> nn.Module:
        import torch

        return torch.nn.Linear(4, 4, device=device)

    def _load_checkpoint(self, model: nn.Module, device: str) -> None:
        import torch

        model.to_empty(device=device)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(1.0)
