"""Learning-rate schedule: linear warmup, then cosine or linear decay (or constant).

The factor multiplies each optimizer group's absolute ``base_lr``; the loop sets
``group["lr"]`` explicitly every step, so what is logged is what is used.
"""

from __future__ import annotations

import math


def lr_factor(
    step: int, total: int, warmup: int = 0, schedule: str = "cosine", final: float = 0.01
) -> float:
    """LR multiplier at ``step`` of ``total``: 0->1 over ``warmup`` steps, then decay to ``final``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "linear":
        return final + (1 - final) * (1 - progress)
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))
