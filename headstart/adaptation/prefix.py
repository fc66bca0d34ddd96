"""Splitting a backbone body into a frozen prefix (computed once, cached) and a trainable suffix.

When the bottom layer groups are frozen and the input transform is deterministic, the output
of the frozen prefix never changes: computing it once per image makes each epoch cost only
the trainable top. The split works for bodies whose forward pass is a plain chain of their
(nested ``nn.Sequential``) children, which is checked numerically; other bodies get no split.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class FlatOutput(nn.Module):
    """``module(x)`` flattened to ``(batch, -1)``, so feature caches can store any activation."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x).flatten(1)


def chain(body: nn.Module) -> list[tuple[str, nn.Module]]:
    """Children of ``body`` in order, ``nn.Sequential`` containers expanded (names relative)."""
    out: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            full = f"{prefix}{name}"
            if isinstance(child, nn.Sequential) and len(child) > 0:
                walk(full + ".", child)
            else:
                out.append((full, child))

    walk("", body)
    return out


@torch.no_grad()
def is_chain(body: nn.Module, input_size: tuple[int, ...]) -> bool:
    """True when running ``chain(body)`` one after another equals ``body`` (eval mode)."""
    was_training = body.training
    body.eval()
    try:
        x = torch.randn(2, *input_size, generator=torch.Generator().manual_seed(0))
        ref = body(x)
        y = x
        for _, module in chain(body):
            y = module(y)
        return y.shape == ref.shape and torch.allclose(y, ref, rtol=1e-4, atol=1e-4)
    except Exception:  # noqa: BLE001 - any mismatch just means "no split"
        return False
    finally:
        body.train(was_training)


def split_body(
    body: nn.Module, trainable: Iterable[str], input_size: tuple[int, ...], check: bool = True
) -> tuple[nn.Sequential, nn.Sequential] | None:
    """``(prefix, suffix)`` with ``suffix(prefix(x)) == body(x)``; the prefix holds no trainable
    parameter (names relative to ``body``). None when ``body`` is not a verifiable chain.
    ``check=False`` skips the check, for a copy of a body already checked.

    The two halves share the body's modules: training the suffix trains the body.
    """
    if check and not is_chain(body, input_size):
        return None
    train = set(trainable)
    items = chain(body)
    cut = len(items)
    for i, (name, module) in enumerate(items):
        if any(f"{name}.{p}" in train for p, _ in module.named_parameters()):
            cut = i
            break
    return nn.Sequential(*[m for _, m in items[:cut]]), nn.Sequential(*[m for _, m in items[cut:]])
