"""Fine-tuning only the top layer groups, with the frozen bottom computed once.

When the top ``N`` layer groups train and the input is deterministic, the output of the frozen
bottom (the *prefix*) never changes: it is computed once per image through ``FeatureCache``
and the training steps run only the trainable *suffix*. For timm's EfficientNet family
(EfficientNet, -Lite, MobileNetV2...) the body splits between two stages of ``blocks``; other
architectures fall back to an empty prefix (the cached input is the transformed image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from headstart.backbones import Backbone, fingerprint
from headstart.data.sources import Sample
from headstart.data.transforms import eval_transform
from headstart.embeddings.encoders import ImageFiles
from headstart.features.cache import FeatureCache

_EFFICIENTNET_PARTS = ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "global_pool")


@dataclass
class SplitBody:
    prefix: nn.Module  # frozen: its outputs are cached
    suffix: nn.Module  # trains: cached prefix output -> pooled features
    where: str  # e.g. "blocks.5": the first module of the suffix
    shape: tuple[int, ...]  # shape of one prefix output (without the batch dimension)


def split_body(backbone: Backbone, train_groups: int) -> SplitBody:
    """Split ``backbone.body`` so that the top ``train_groups`` layer groups are in the suffix."""
    body = backbone.body
    n = len(backbone.groups)
    trained = {p for g in backbone.groups[n - train_groups :] for p in g.params}
    first = _first_trained_block(body, trained)
    if first is None:
        prefix: nn.Module = nn.Identity()
        suffix, where = body, "input"
    else:
        part = body.get_submodule
        blocks = list(part("blocks").children())
        prefix = nn.Sequential(part("conv_stem"), part("bn1"), *blocks[:first])
        suffix = nn.Sequential(*blocks[first:], part("conv_head"), part("bn2"), part("global_pool"))
        where = f"blocks.{first}"
    size = backbone.data_config["input_size"]
    modes = [(m, m.training) for m in prefix.modules()]
    prefix.eval()
    device = next(body.parameters()).device  # the body may already be on the GPU
    with torch.no_grad():
        shape = tuple(prefix(torch.zeros(1, *size, device=device)).shape[1:])
    for module, mode in modes:  # the modules are the body's own: leave them as they were
        module.training = mode
    return SplitBody(prefix, suffix, where, shape)


def _first_trained_block(body: nn.Module, trained: set[str]) -> int | None:
    """Index of the lowest stage of ``blocks`` that trains, when the body can split there."""
    if not all(hasattr(body, part) for part in _EFFICIENTNET_PARTS):
        return None
    if any(p.startswith(("conv_stem.", "bn1.")) for p in trained):
        return None  # everything trains: nothing to cache
    n_stages = len(list(body.get_submodule("blocks").children()))
    stages = [i for i in range(n_stages) if any(p.startswith(f"blocks.{i}.") for p in trained)]
    return min(stages) if stages else n_stages


class _Flat(nn.Module):
    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x).flatten(1)


def prefix_activations(
    split: SplitBody,
    backbone: Backbone,
    files: Sequence,
    device: torch.device,
    dtype: torch.dtype | None,
    progress: bool = True,
) -> np.ndarray:
    """The prefix output of every file, ``(n, prod(shape))``, from the cache or computed once."""
    tf = eval_transform(backbone.data_config)
    key = f"{backbone.name}:prefix@{split.where}:{fingerprint(split.prefix)}"
    return FeatureCache().features(
        _Flat(split.prefix),
        key,
        [Sample(f, "") for f in files],
        ImageFiles(files, tf),
        tf,
        device,
        dtype,
        progress=progress,
        desc="frozen prefix",
    )
