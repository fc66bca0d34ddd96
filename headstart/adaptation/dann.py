"""The DANN domain loss: a discriminator behind gradient reversal, fed both domains' features.

Only features reach this loss, never class labels: the source domain is labelled 1 and the
target 0 by construction, so unlabelled target images are all it needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from headstart.adaptation.discriminator import DomainDiscriminator
from headstart.adaptation.grl import GradientReverseLayer


class DomainAdversarialLoss(nn.Module):
    """``loss(f_s, f_t)``: binary cross-entropy of the discriminator on source vs target features.

    Each domain weighs one half, whatever the batch sizes. Gradients reaching the features are
    reversed (and scaled by the layer's coefficient), so minimising the sum of this and the
    classification loss trains the discriminator and confuses it at once. After each call
    ``domain_accuracy`` holds the discriminator's accuracy on that batch (the mean of
    its accuracy on each domain).

    >>> loss_fn = DomainAdversarialLoss(DomainDiscriminator(256))
    >>> loss = loss_fn(torch.randn(32, 256), torch.randn(32, 256))
    """

    def __init__(self, discriminator: DomainDiscriminator, grl: GradientReverseLayer | None = None):
        super().__init__()
        self.discriminator = discriminator
        self.grl = grl if grl is not None else GradientReverseLayer()
        self.domain_accuracy = float("nan")

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor) -> torch.Tensor:
        scores = self.discriminator(self.grl(torch.cat([f_s, f_t]))).float()
        d_s, d_t = scores[: len(f_s)], scores[len(f_s) :]
        loss_s = F.binary_cross_entropy_with_logits(d_s, torch.ones_like(d_s))
        loss_t = F.binary_cross_entropy_with_logits(d_t, torch.zeros_like(d_t))
        with torch.no_grad():
            hits = 0.5 * ((d_s > 0).float().mean() + (d_t <= 0).float().mean())
            self.domain_accuracy = float(hits)
        return 0.5 * (loss_s + loss_t)
