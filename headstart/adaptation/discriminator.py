"""The domain discriminator: an MLP that scores "is this feature from the source domain?"."""

from __future__ import annotations

import torch
from torch import nn


class DomainDiscriminator(nn.Module):
    """``(batch, in_features) -> (batch,)`` logits, positive for source, negative for target.

    Two hidden layers with dropout, as in DANN's discriminator for deep features. Always
    returns logits (train and eval alike); the loss applies the sigmoid.

    >>> d = DomainDiscriminator(256, hidden=1024)
    >>> d(torch.randn(8, 256)).shape
    torch.Size([8])
    """

    def __init__(self, in_features: int, hidden: int = 1024, layers: int = 2, dropout: float = 0.5):
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(1)
