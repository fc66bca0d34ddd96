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
    """True when ``transform`` has no random step (so its output can be cached).

    Looks inside nested containers (``Compose``, ``RandomApply``, torchvision v2) and knows
    torchvision's and timm's random transforms, including the ones whose name does not say
    so (``ColorJitter``, ``GaussianBlur`` with a sigma range, ``AutoAugment``, ...).
    """
    return not random_steps(transform)


def random_steps(transform: Any) -> list[str]:
    """Names of the random steps of ``transform`` (``["RandomResizedCrop", ...]``)."""
    return [type(s).__name__ for s in transform_steps(transform) if _is_random(s)]


def transform_steps(transform: Any) -> list[Any]:
    """``transform`` and every step nested inside it, depth first."""
    steps = [transform]
    for inner in getattr(transform, "transforms", None) or []:
        steps.extend(transform_steps(inner))
    return steps


_RANDOM_NAMES = {
    "AutoAugment",
    "RandAugment",
    "TrivialAugmentWide",
    "AugMix",
    "ElasticTransform",
    "GaussianNoise",
    "ScaleJitter",
    "MixUp",
    "CutMix",
}


def _is_random(step: Any) -> bool:
    name = type(step).__name__
    if "Random" in name or name in _RANDOM_NAMES:
        return True
    if name == "ColorJitter":  # timm adds ColorJitter(None, ...) as a no-op
        jitter = ("brightness", "contrast", "saturation", "hue")
        return any(getattr(step, k, None) is not None for k in jitter)
    if name == "GaussianBlur":  # sigma is drawn from [min, max] on every call
        sigma = list(getattr(step, "sigma", [0.0, 0.0]))
        return len(sigma) == 2 and sigma[0] != sigma[1]
    if name == "ResizeKeepRatio":  # timm: random scale / aspect with these probabilities
        return bool(getattr(step, "random_scale_prob", 0) or getattr(step, "random_aspect_prob", 0))
    return False


def _cfg(data_config: dict[str, Any]) -> dict[str, Any]:
    keys = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")
    return {k: data_config[k] for k in keys if k in data_config}
