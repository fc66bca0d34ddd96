"""Running a frozen backbone over images once, fast: no_grad, autocast, channels-last."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from headstart.engine.precision import autocast, channels_last


@torch.no_grad()
def iter_features(
    body: nn.Module,
    dataset: Dataset,
    device: torch.device,
    dtype: torch.dtype | None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
    desc: str = "features",
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(offset, features)`` batches in dataset order, in eval mode."""
    was_training = body.training
    body.eval()
    cl = channels_last(device, dtype)
    if cl:
        body.to(memory_format=torch.channels_last)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),
    )
    offset = 0
    try:
        for x, _ in tqdm(
            loader, desc=desc, leave=False, disable=None if progress else True, unit="batch"
        ):
            x = x.to(device, non_blocking=True)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                f = body(x)
            f = f.float().cpu().numpy()
            yield offset, f
            offset += len(f)
    finally:
        body.train(was_training)


def extract_features(
    body: nn.Module, dataset: Dataset, device: torch.device, dtype: torch.dtype | None, **kw
) -> np.ndarray:
    """All features of ``dataset`` as one array ``(n, dim)`` (use ``FeatureCache`` for disk)."""
    parts = [f for _, f in iter_features(body, dataset, device, dtype, **kw)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
