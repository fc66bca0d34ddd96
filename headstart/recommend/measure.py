"""Measurements of how far a data set is from what a backbone was pretrained on.

- ``bn_shift``: for every layer group, how far the target images' activation statistics at the
  batch-norm layers are from the running statistics learnt in pretraining: the shift of the
  means (in units of the pretrained standard deviation; large shifts mean the layers see inputs
  unlike ImageNet's) and the ratio of the spreads (target std / pretrained std, geometric mean
  over channels; well below 1 means pretrained statistics shrink the signal).
- ``linear_probe``: logistic regression on frozen, cached features (train -> val): how well the
  pretrained features already separate the classes.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from headstart.backbones.model import Backbone
from headstart.data.imagedata import ImageData
from headstart.data.transforms import eval_transform


@torch.no_grad()
def bn_shift(
    backbone: Backbone, data: ImageData, n_images: int = 64, seed: int = 0
) -> list[dict[str, Any]]:
    """Per layer group, over its BN channels: ``shift``, the mean |target mean - running mean| /
    running std, and ``scale``, the geometric mean of target std / running std."""
    body = backbone.body.eval()
    owner = {p: g.name for g in backbone.groups for p in g.params}
    shifts: dict[str, list[float]] = {g.name: [] for g in backbone.groups}
    log_scales: dict[str, list[float]] = {g.name: [] for g in backbone.groups}
    hooks = []

    def hook(name: str):
        def fn(
            module: nn.modules.batchnorm._BatchNorm, inputs: tuple[torch.Tensor, ...], _: Any
        ) -> None:
            x = inputs[0].float()
            dims = (0, 2, 3) if x.ndim == 4 else (0,)
            mu, var = x.mean(dim=dims), x.var(dim=dims)
            assert module.running_mean is not None and module.running_var is not None
            std = (module.running_var + module.eps).sqrt()
            group = owner.get(f"{name}.weight")
            if group is not None:
                shifts[group].append(float(((mu - module.running_mean).abs() / std).mean()))
                ratio = (var + module.eps) / (module.running_var + module.eps)
                log_scales[group].append(float(0.5 * ratio.log().mean()))

        return fn

    for name, m in body.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            hooks.append(m.register_forward_hook(hook(name)))
    try:
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(data.train), size=min(n_images, len(data.train)), replace=False)
        ds = Subset(data.dataset("train", eval_transform(backbone.data_config)), idx.tolist())
        device = next(body.parameters()).device  # wherever the caller keeps the body
        for x, _ in DataLoader(ds, batch_size=len(idx)):
            body(x.to(device))
    finally:
        for h in hooks:
            h.remove()
    return [
        {
            "group": g,
            "shift": float(np.mean(v)) if v else None,
            "scale": float(np.exp(np.mean(log_scales[g]))) if v else None,
        }
        for g, v in shifts.items()
    ]


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, seed: int = 0
) -> dict[str, float]:
    """Val accuracy of a logistic regression on standardised frozen features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    clf = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, C=0.5, random_state=seed)
    )
    clf.fit(np.asarray(train_x), train_y)
    acc = float((clf.predict(np.asarray(val_x)) == val_y).mean())
    train_acc = float((clf.predict(np.asarray(train_x)) == train_y).mean())
    return {"val_acc": acc, "train_acc": train_acc, "seconds": time.perf_counter() - start}
