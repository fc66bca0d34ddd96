"""Image classification as a task of the loop: phases over cached features or images."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import (
    DataLoader,
    Dataset,
    RandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

from headstart.backbones.model import FP32Head, TransferModel
from headstart.data.imagedata import ImageData
from headstart.engine import distributed
from headstart.engine.loop import Phase
from headstart.strategies import Plan, apply_plan, build_param_groups, set_train_mode


def default_workers(requested: int = -1) -> int:
    """Decoding workers: none on a 2-core machine (the model needs both cores), else some."""
    if requested >= 0:
        return requested
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 0 if (cpus or 1) <= 2 else min(6, (cpus or 1) // 2)


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


class ImageClassificationTask:
    def __init__(
        self,
        model: TransferModel,
        plan: Plan,
        groups: list[tuple[str, ...]],
        inputs: Inputs,
        weight_decay: float,
        loss: nn.Module,
        channels_last: bool,
    ):
        self.model = model
        self.plan = plan
        self.groups = groups
        self.inputs = inputs
        self.weight_decay = weight_decay
        self.criterion = loss
        self.channels_last = channels_last

    def uses_cache(self, epoch: int) -> bool:
        return self.inputs.features is not None and self.plan.head_only(epoch)

    def phase(self, epoch: int) -> Phase:
        apply_plan(self.model, self.plan, self.groups, epoch)
        groups = build_param_groups(self.model, self.plan, self.groups, epoch, self.weight_decay)
        inp = self.inputs
        labels = np.asarray(inp.data.labels("train"))
        train_ds: Any
        val_ds: Any
        if inp.features is not None and self.plan.head_only(epoch):
            train_ds = _tensor_ds(inp.features("train"), labels)
            val_ds = _tensor_ds(inp.features("val"), np.asarray(inp.data.labels("val")))
            module: nn.Module = FP32Head(self.model.head)
            key: object = ("cached-head",)
            workers, cl = 0, False
        else:
            train_ds = inp.data.dataset("train", inp.train_tf)
            val_ds = inp.data.dataset("val", inp.eval_tf)
            module = self.model
            key = tuple(g["name"] for g in groups)
            workers, cl = inp.num_workers, self.channels_last
        if distributed.active():
            train, val = _sharded_loaders(train_ds, val_ds, labels, inp, workers)
            return Phase(key, module, train, val, groups, len(train), cl, sharded=True)
        train = DataLoader(
            train_ds,
            batch_size=inp.batch_size,
            num_workers=workers,
            drop_last=len(train_ds) > inp.batch_size,
            **_sampling(labels, inp.balanced),
        )
        val = DataLoader(val_ds, batch_size=inp.eval_batch_size, num_workers=workers)
        return Phase(key, module, train, val, groups, steps=len(train), channels_last=cl)

    def set_train_mode(self, epoch: int) -> None:
        set_train_mode(self.model, self.plan, self.groups, epoch)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion(logits, targets)


def _tensor_ds(features: np.ndarray, labels: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.tensor(np.asarray(features)), torch.from_numpy(labels).long())


def _sampling(labels: np.ndarray, balanced: bool) -> dict:
    if not balanced:
        return {"shuffle": True}
    counts = np.bincount(labels)
    weights = (1.0 / counts[labels]).tolist()
    return {"sampler": WeightedRandomSampler(weights, len(labels), replacement=True)}


def _sharded_loaders(
    train_ds: Dataset, val_ds: Dataset, labels: np.ndarray, inp: Inputs, workers: int
) -> tuple[DataLoader, DataLoader]:
    """This process's share of the single-process batches (``inp.batch_size`` is global)."""
    n, size = len(labels), inp.batch_size
    per_batch = distributed.per_process_batch(size)
    # As in one process: whole batches only (the last partial one dropped) unless n <= size.
    per_process = (n // size) * per_batch if n > size else -(-n // distributed.world_size())
    base = _sampling(labels, inp.balanced).get("sampler") or RandomSampler(train_ds)  # type: ignore[arg-type]
    train = DataLoader(
        train_ds,
        batch_size=per_batch,
        sampler=distributed.ShardedSampler(base, per_process),
        num_workers=workers,
        worker_init_fn=distributed.seed_worker,
    )
    val_size = max(64, size)
    val = DataLoader(
        val_ds,
        batch_size=val_size,
        sampler=distributed.OrderedShard(len(val_ds), val_size),  # type: ignore[arg-type]
        num_workers=workers,
    )
    return train, val


def class_weights(labels: list[int], n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1: rare classes count more in the loss."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.as_tensor(w, dtype=torch.float32)
