"""Transforms built from a backbone's data config: deterministic for eval, augmented for train."""

from __future__ import annotations

from typing import Any

from timm.data import create_transform
from torchvision import transforms as T

AUGMENTATIONS = ("none", "light", "standard")


def eval_transform(data_config: dict[str, Any]) -> T.Compose:
    """Resize, center crop, to tensor, normalize: exactly what the weights were trained with."""
    return create_transform(**_cfg(data_config), is_training=False)


def train_transform(data_config: dict[str, Any], augment: str = "standard") -> T.Compose:
    """Train-time transform. ``none``: the eval transform; ``light``: random resized crop
    (scale 0.7-1); ``standard``: random resized crop (scale 0.5-1) and horizontal flip.

    Crops are milder than ImageNet training's (0.08-1): small target data sets are often
    small or centred images, where a crop of 8% of the area loses the object."""
    if augment == "none":
        return eval_transform(data_config)
    cfg = _cfg(data_config)
    cfg.pop("crop_pct", None)
    cfg.pop("crop_mode", None)
    scale = (0.7, 1.0) if augment == "light" else (0.5, 1.0)
    hflip = 0.0 if augment == "light" else 0.5
    return create_transform(
        **cfg, is_training=True, scale=scale, hflip=hflip, color_jitter=0.0, auto_augment=None
    )


def is_deterministic(transform: Any) -> bool:
    """True when ``transform`` has no random step (so its output can be cached)."""
    steps = getattr(transform, "transforms", [transform])
    random_kinds = (
        T.RandomResizedCrop,
        T.RandomHorizontalFlip,
        T.RandomVerticalFlip,
        T.RandomCrop,
        T.RandomRotation,
        T.RandomAffine,
        T.ColorJitter,
        T.RandomApply,
        T.RandomChoice,
        T.RandomErasing,
        T.AutoAugment,
        T.RandAugment,
        T.TrivialAugmentWide,
    )
    return not any(isinstance(s, random_kinds) or "Random" in type(s).__name__ for s in steps)


def _cfg(data_config: dict[str, Any]) -> dict[str, Any]:
    keys = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")
    return {k: data_config[k] for k in keys if k in data_config}
