"""A frozen prefix of a backbone body, computed once per image and cached; the rest trains.

When the bottom layer groups are frozen and the input transform is deterministic, the output
of the frozen prefix never changes: computing it once per image (through ``FeatureCache``)
makes each epoch cost only the trainable top. The split works for bodies whose forward pass is
a plain chain of their (nested ``nn.Sequential``) children, which is checked numerically; other
bodies get an empty prefix (the cached input is the transformed image). Few-shot fine-tuning
and domain adaptation both train on top of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from headstart.backbones import fingerprint
from headstart.data.sources import Sample
from headstart.features.cache import FeatureCache
from headstart.features.extract import Extraction


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
def is_chain(body: nn.Module, input_size: Sequence[int]) -> bool:
    """True when running ``chain(body)`` one after another equals ``body`` (eval mode)."""
    modes = [(m, m.training) for m in body.modules()]
    body.eval()
    try:
        device = next(body.parameters(), torch.zeros(0)).device
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(2, *input_size, generator=gen).to(device)
        ref = body(x)
        y = x
        for _, module in chain(body):
            y = module(y)
        return y.shape == ref.shape and torch.allclose(y, ref, rtol=1e-4, atol=1e-4)
    except Exception:  # noqa: BLE001 - any mismatch just means "no split"
        return False
    finally:
        for m, mode in modes:
            m.training = mode


@dataclass
class PrefixSplit:
    prefix: nn.Module  # frozen: its outputs are cached
    suffix: nn.Module  # trains: cached prefix output -> pooled features
    where: str  # the first module of the suffix (e.g. "blocks.5.0"), or "input"
    shape: tuple[int, ...]  # one prefix output, without the batch dimension

    @property
    def empty(self) -> bool:
        return self.where == "input"


def split_body(
    body: nn.Module, trainable: Iterable[str], input_size: Sequence[int], check: bool = True
) -> PrefixSplit:
    """``suffix(prefix(x)) == body(x)`` with no trainable parameter (names relative to
    ``body``) in the prefix. An empty prefix when ``body`` is not a verifiable chain, or when
    its first module trains. ``check=False`` skips the numerical check (a copy of a body
    already checked). The halves share the body's modules: training the suffix trains it."""
    items = chain(body) if not check or is_chain(body, input_size) else []
    train = set(trainable)
    cut = next(
        (
            i
            for i, (name, module) in enumerate(items)
            if any(f"{name}.{p}" in train for p, _ in module.named_parameters())
        ),
        len(items),
    )
    if cut == 0:
        return PrefixSplit(nn.Identity(), body, "input", tuple(input_size))
    prefix = nn.Sequential(*[m for _, m in items[:cut]])
    suffix = nn.Sequential(*[m for _, m in items[cut:]])
    where = items[cut][0] if cut < len(items) else "output"
    return PrefixSplit(prefix, suffix, where, _output_shape(prefix, input_size))


@torch.no_grad()
def _output_shape(prefix: nn.Module, input_size: Sequence[int]) -> tuple[int, ...]:
    modes = [(m, m.training) for m in prefix.modules()]
    prefix.eval()
    device = next(prefix.parameters(), torch.zeros(0)).device
    shape = tuple(prefix(torch.zeros(1, *input_size, device=device)).shape[1:])
    for module, mode in modes:  # the modules are the body's own: leave them as they were
        module.training = mode
    return shape


def prefix_activations(
    split: PrefixSplit,
    name: str,
    samples: list[Sample],
    dataset: Dataset,
    transform: Any,
    run: Extraction,
    cache: FeatureCache | None = None,
) -> torch.Tensor:
    """The prefix output of every sample, ``(n, *split.shape)``, from the cache or computed
    once (``name`` names the backbone; the prefix's own weights are fingerprinted)."""
    weights_id = f"{name}:prefix@{split.where}:{fingerprint(split.prefix)}"
    flat = (cache or FeatureCache()).features(
        FlatOutput(split.prefix), weights_id, samples, dataset, transform, run
    )
    return torch.tensor(np.asarray(flat, dtype=np.float32)).view(len(samples), *split.shape)
