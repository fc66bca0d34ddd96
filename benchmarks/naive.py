"""The tutorial loop headstart is measured against: fp32, NCHW, eager, no caches.

Every batch of every epoch decodes the PNG files with PIL and forwards the whole network, as
the "freeze the backbone, replace the head, write a loop" tutorials do (frozen BN kept in eval
mode, so that accuracy is comparable).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from headstart.backbones import TransferModel, load_backbone, make_head
from headstart.data.transforms import eval_transform, train_transform


class PILFolder(Dataset):
    def __init__(self, samples: Sequence[tuple[Path, int]], transform):
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        return self.transform(Image.open(path).convert("RGB")), label


def naive_model(n_classes: int, seed: int) -> tuple[TransferModel, dict]:
    torch.manual_seed(seed)
    bb = load_backbone("tf_efficientnet_lite0")
    return TransferModel(bb.body, make_head(bb.num_features, n_classes)), bb.data_config


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return correct / total


def naive_head_training(
    train, val, n_classes: int, epochs: int, seed: int = 0, batch_size: int = 32, lr: float = 3e-3
) -> dict:
    """Frozen backbone, new head, forward everything every batch of every epoch; validation
    after every epoch, as the tutorials' train/val loop does and as headstart does (on its
    cached features), so that both produce the same per-epoch metrics."""
    model, cfg = naive_model(n_classes, seed)
    tf = eval_transform(cfg)
    for p in model.body.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.head.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(PILFolder(train, tf), batch_size=batch_size, shuffle=True, generator=g)
    val_loader = DataLoader(PILFolder(val, tf), batch_size=64)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        model.body.eval()  # the one fix we grant the tutorial: frozen BN stays in eval mode
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = accuracy(model, val_loader)  # the tutorial's val phase, every epoch, as headstart
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "val_acc": acc}


def naive_full_finetune(
    train,
    val,
    n_classes: int,
    epochs: int,
    seed: int = 0,
    batch_size: int = 32,
    lr: float = 5e-4,
    head_lr: float = 3e-3,
    max_batches: int | None = None,
) -> dict:
    """Everything trains, fp32 eager NCHW; returns train images/s over the epochs (decoding
    included, as headstart's epoch throughput) and val accuracy."""
    model, cfg = naive_model(n_classes, seed)
    opt = torch.optim.AdamW(
        [
            {"params": model.body.parameters(), "lr": lr},
            {"params": model.head.parameters(), "lr": head_lr},
        ]
    )
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        PILFolder(train, train_transform(cfg, "standard")),
        batch_size=batch_size,
        shuffle=True,
        generator=g,
        drop_last=True,
    )
    images, train_time = 0, 0.0
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()  # over the epoch, data loading included, as headstart is timed
        for b, (x, y) in enumerate(loader):
            if max_batches is not None and b >= max_batches:
                break
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            images += len(y)
        train_time += time.perf_counter() - start
    acc = accuracy(model, DataLoader(PILFolder(val, eval_transform(cfg)), batch_size=64))
    return {"images_per_s": images / train_time, "val_acc": acc, "seconds": train_time}


def naive_predict(paths: Sequence[Path], batch_size: int = 64) -> dict:
    """fp32 eager forward of the whole model over image files (decode included)."""
    model, cfg = naive_model(10, 0)
    model.eval()
    loader = DataLoader(
        PILFolder([(p, 0) for p in paths], eval_transform(cfg)), batch_size=batch_size
    )
    start = time.perf_counter()
    outs = []
    with torch.no_grad():
        for x, _ in loader:
            outs.append(model.body(x))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "images_per_s": len(paths) / seconds,
        "features": torch.cat(outs).numpy().astype(np.float32),
    }
