"""Precise batch-norm statistics: re-estimate the running statistics of the batch-norm layers
that train, on training images, with the final weights of the epoch.

Running statistics are exponential averages collected while the weights change; over few
steps they lag the weights, and a model whose BN statistics train from scratch can put every
validation image in one class while it fits the training images (Wu and Johnson, "Rethinking
'Batch' in BatchNorm", 2021). Only layers in train mode are touched: frozen (eval-mode)
statistics stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

MAX_IMAGES = 2048  # enough for stable estimates (the paper uses about 10^4), bounded cost


@torch.no_grad()
def precise_bn(
    model: nn.Module,
    batches: Iterable[Any],
    forward: Callable[[nn.Module, Any], Any],
    max_images: int = MAX_IMAGES,
) -> int:
    """Recompute the running mean and variance of ``model``'s training-mode BN layers as plain
    averages over ``batches`` (``forward(model, batch)`` runs one); return the images seen."""
    layers = [
        m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
    ]
    if not layers:
        return 0
    saved = [(m, m.momentum) for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over every batch
    seen = 0
    try:
        for batch in batches:
            forward(model, batch)
            seen += _batch_size(batch)
            if seen >= max_images:
                break
    finally:
        for m, momentum in saved:
            m.momentum = momentum
    return seen


def _batch_size(batch: Any) -> int:
    x = batch[0] if isinstance(batch, list | tuple) else batch
    return len(x) if hasattr(x, "__len__") else 1
