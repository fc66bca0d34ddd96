"""A data set's profile: what a practitioner checks first (size, balance, image shapes)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from PIL import Image

from headstart.data.imagedata import ImageData


def profile(data: ImageData, sample: int = 200, seed: int = 0) -> dict[str, Any]:
    """Counts per class and split, imbalance, and image sizes / modes from a seeded sample."""
    counts = data.counts("train")
    n = list(counts.values())
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(data.train), size=min(sample, len(data.train)), replace=False)
    sizes: list[tuple[int, int]] = []
    modes: Counter[str] = Counter()
    for i in pick:
        with Image.open(data.train[int(i)].path) as im:
            sizes.append(im.size)
            modes[im.mode] += 1
    w = np.array([s[0] for s in sizes])
    h = np.array([s[1] for s in sizes])
    return {
        "classes": len(data.classes),
        "train_images": len(data.train),
        "val_images": len(data.val),
        "test_images": len(data.test),
        "per_class_min": int(min(n)),
        "per_class_median": float(np.median(n)),
        "per_class_max": int(max(n)),
        "imbalance": float(max(n) / max(1, min(n))),
        "train_counts": counts,
        "val_counts": data.counts("val"),
        "image_width": {"min": int(w.min()), "median": float(np.median(w)), "max": int(w.max())},
        "image_height": {"min": int(h.min()), "median": float(np.median(h)), "max": int(h.max())},
        "modes": dict(modes),
        "grayscale_share": float(
            sum(v for k, v in modes.items() if k in ("L", "I", "I;16", "1", "LA"))
            / max(1, len(pick))
        ),
    }


def describe(p: dict[str, Any]) -> str:
    """One line for the console."""
    return (
        f"{p['classes']} classes, {p['train_images']} train / {p['val_images']} val images; "
        f"{p['per_class_min']}-{p['per_class_max']} per class (imbalance {p['imbalance']:.1f}x); "
        f"images ~{p['image_width']['median']:.0f}x{p['image_height']['median']:.0f} px, "
        f"modes {', '.join(f'{k}:{v}' for k, v in p['modes'].items())}"
    )
