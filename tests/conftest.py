"""Shared fixtures: tiny generated image folders and an isolated feature cache.

Models in the default suite are timm's tiny randomly initialised ``test_*`` networks: those
tests check plumbing and invariants, never accuracy. Real weights and real data are used only
in tests marked ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TINY = "test_efficientnet"
COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (40, 50, 210)}


def make_image(path: Path, colour: tuple[int, int, int], seed: int, size: int = 20) -> Path:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour) + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def make_folder(
    root: Path,
    n_train: int = 6,
    n_val: int = 3,
    classes: dict[str, tuple[int, int, int]] | None = None,
) -> Path:
    """``root/train/<class>/*.png`` and ``root/val/<class>/*.png`` of noisy solid colours."""
    classes = classes or COLOURS
    seed = 0
    for split, n in (("train", n_train), ("val", n_val)):
        for name, colour in classes.items():
            for i in range(n):
                make_image(root / split / name / f"{i}.png", colour, seed)
                seed += 1
    return root


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "data")


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HEADSTART_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def tiny_config(**kw):
    """A fast config for the tiny random model (fp32 reference, no progress bars)."""
    from headstart.config import TrainConfig

    base = dict(
        backbone=TINY,
        weights="random",
        epochs=2,
        batch_size=4,
        precision="fp32",
        progress=False,
        num_workers=0,
    )
    base.update(kw)
    return TrainConfig(**base)
