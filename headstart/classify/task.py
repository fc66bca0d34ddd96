"""Image classification as a task of the loop: phases over cached features or images.

Head-only epochs train on features computed once (``FeatureCache``); epochs where the body
trains run it on the images, with augmentation drawn per sample (``data/augment.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset, WeightedRandomSampler

from headstart.backbones.model import FP32Head, TransferModel
from headstart.data.augment import SeededSamples
from headstart.data.imagedata import ImageData
from headstart.engine.loaders import eval_loader, train_loader
from headstart.engine.task import Phase, PlannedTask
from headstart.strategies import Plan


@dataclass
class Inputs:
    """What the task trains on: the data, transforms, and a way to get cached features."""

    data: ImageData
    train_tf: Callable[[Any], torch.Tensor]
    eval_tf: Callable[[Any], torch.Tensor]
    batch_size: int
    num_workers: int
    balanced: bool = False
    features: Callable[[str], np.ndarray] | None = None  # split -> cached features
    eval_batch_size: int = 64  # validation batches (see engine.precision.eval_batch_size)
    seed: int = 0  # augmentation draws depend on (seed, epoch, sample index) only


@dataclass(eq=False)
class ImageClassificationTask(PlannedTask):
    """Phases for the loop: the head on cached features while the body is frozen, else the whole
    model on (augmented) images."""

    model: TransferModel
    plan: Plan
    inputs: Inputs
    weight_decay: float
    criterion: nn.Module
    channels_last: bool

    def uses_cache(self, epoch: int) -> bool:
        return self.inputs.features is not None and self.plan.head_only(epoch)

    def phase(self, epoch: int) -> Phase:
        groups = self.param_groups(epoch)
        inp = self.inputs
        labels = np.asarray(inp.data.labels("train"))
        train_ds: Any
        val_ds: Any
        if self.uses_cache(epoch):
            assert inp.features is not None
            train_ds = _tensor_ds(inp.features("train"), labels)
            val_ds = _tensor_ds(inp.features("val"), np.asarray(inp.data.labels("val")))
            module: nn.Module = FP32Head(self.model.head)
            key: object = ("cached-head",)
            workers, cl = 0, False
        else:
            train_ds = SeededSamples(inp.data.dataset("train", inp.train_tf), inp.seed, epoch)
            val_ds = inp.data.dataset("val", inp.eval_tf)
            module = self.model
            key = tuple(g["name"] for g in groups)
            workers, cl = inp.num_workers, self.channels_last
        train = train_loader(
            train_ds, inp.batch_size, _sampler(labels, inp.balanced), None, workers
        )
        val = eval_loader(val_ds, inp.eval_batch_size, num_workers=workers)
        # precise BN re-estimates the statistics of the BN layers that train (scratch, --bn-stats
        # adapt) before each validation; frozen statistics and the cached head are left alone
        return Phase(
            key, module, train, val, groups, len(train), cl, sharded=True,
            precise_bn=not self.uses_cache(epoch),
        )  # fmt: skip


def _tensor_ds(features: np.ndarray, labels: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.tensor(np.asarray(features)), torch.from_numpy(labels).long())


def _sampler(labels: np.ndarray, balanced: bool) -> WeightedRandomSampler | None:
    """Classes drawn equally often (with replacement) when ``balanced``; else None (shuffle)."""
    if not balanced:
        return None
    counts = np.bincount(labels)
    weights = (1.0 / counts[labels]).tolist()
    return WeightedRandomSampler(weights, len(labels), replacement=True)


def class_weights(labels: list[int], n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1: rare classes count more in the loss."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.as_tensor(w, dtype=torch.float32)
