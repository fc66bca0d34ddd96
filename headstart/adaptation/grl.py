"""Gradient reversal: identity forward, gradient times ``-coeff`` backward (Ganin & Lempitsky).

Placed between a feature extractor and a domain discriminator, it lets one optimizer step
train the discriminator to tell the domains apart while pushing the features to make them
indistinguishable. The coefficient ramps up from 0 so the discriminator's early, noisy
gradients do not wreck the pretrained features.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad.neg() * ctx.coeff, None


def reverse_gradient(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """``x`` unchanged; its gradient is multiplied by ``-coeff`` on the way back."""
    return _ReverseGrad.apply(x, float(coeff))


def dann_coefficient(progress: float, gamma: float = 10.0, high: float = 1.0) -> float:
    """The DANN schedule ``high * (2 / (1 + exp(-gamma * p)) - 1)`` for progress ``p`` in [0, 1].

    >>> dann_coefficient(0.0), round(dann_coefficient(1.0), 4)
    (0.0, 1.0)
    """
    p = min(1.0, max(0.0, progress))
    return high * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


class GradientReverseLayer(nn.Module):
    """Gradient reversal with a coefficient that can follow :func:`dann_coefficient`.

    Set ``coeff`` directly, or call :meth:`schedule` with the training progress.

    >>> grl = GradientReverseLayer()
    >>> grl.schedule(0.5)   # coeff = 2 / (1 + e^-5) - 1
    """

    def __init__(self, coeff: float = 1.0, gamma: float = 10.0, high: float = 1.0):
        super().__init__()
        self.coeff = coeff
        self.gamma = gamma
        self.high = high

    def schedule(self, progress: float) -> float:
        self.coeff = dann_coefficient(progress, self.gamma, self.high)
        return self.coeff

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reverse_gradient(x, self.coeff)

    def extra_repr(self) -> str:
        return f"coeff={self.coeff:.4f}, gamma={self.gamma}, high={self.high}"
