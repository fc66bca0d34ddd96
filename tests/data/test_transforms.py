"""``is_deterministic`` decides whether a transform's outputs may be cached: it must see random
steps nested in containers and the ones whose names do not say "Random"."""

from __future__ import annotations

from torchvision import transforms as T
from torchvision.transforms import v2

from headstart.data.transforms import (
    eval_transform,
    is_deterministic,
    random_steps,
    train_transform,
)

CFG = {
    "input_size": (3, 32, 32),
    "mean": (0.5,) * 3,
    "std": (0.5,) * 3,
    "interpolation": "bicubic",
    "crop_pct": 0.875,
}


def test_headstart_eval_is_deterministic_and_train_is_not():
    assert is_deterministic(eval_transform(CFG))
    assert is_deterministic(train_transform(CFG, "none"))
    assert random_steps(train_transform(CFG, "standard"))[:2] == [
        "RandomResizedCropAndInterpolation",
        "RandomHorizontalFlip",
    ]


def test_nested_and_unnamed_random_steps_are_seen():
    assert not is_deterministic(
        T.Compose([T.Resize(32), T.Compose([T.RandomApply([T.Grayscale()])])])
    )
    assert not is_deterministic(T.Compose([T.ColorJitter(brightness=0.2)]))
    assert not is_deterministic(v2.Compose([v2.GaussianBlur(3, sigma=(0.1, 2.0))]))
    assert not is_deterministic(T.Compose([T.AutoAugment()]))


def test_fixed_blur_and_no_op_jitter_are_deterministic():
    assert is_deterministic(T.Compose([T.GaussianBlur(3, sigma=1.0), T.ColorJitter()]))
