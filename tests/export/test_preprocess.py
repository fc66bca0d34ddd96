"""The export's NumPy preprocessing gives the numbers of the training eval transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.data.transforms import eval_transform
from headstart.export.preprocess import ImageRejected, decode_image, preprocessing_of, to_array

LITE0 = {
    "input_size": (3, 224, 224),
    "interpolation": "bicubic",
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "crop_pct": 0.875,
    "crop_mode": "center",
}
IMAGENET_BILINEAR = {
    **LITE0,
    "input_size": (3, 160, 160),
    "interpolation": "bilinear",
    "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225),
    "crop_pct": 0.95,
}
SQUASH = {**LITE0, "crop_mode": "squash", "crop_pct": 1.0}


def photo(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


@pytest.mark.parametrize(
    "cfg", [LITE0, IMAGENET_BILINEAR, SQUASH], ids=["lite0", "bilinear", "squash"]
)
@pytest.mark.parametrize("size", [(28, 28), (640, 480), (300, 901), (225, 224)])
def test_numpy_preprocessing_equals_the_eval_transform(cfg, size) -> None:
    im = photo(size)
    expected = eval_transform(cfg)(im).numpy()
    got = to_array([im], preprocessing_of(cfg))[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-5


def test_gray_and_transparent_images_become_rgb_as_in_training() -> None:
    for im in (photo((50, 40), "L"), photo((50, 40), "RGBA")):
        from headstart.data.images import to_rgb

        expected = eval_transform(LITE0)(to_rgb(im)).numpy()
        assert np.abs(to_array([im], preprocessing_of(LITE0))[0] - expected).max() < 1e-5


def test_unsupported_preprocessing_is_refused_at_export() -> None:
    with pytest.raises(Exception, match="crop_mode 'border'"):
        preprocessing_of({**LITE0, "crop_mode": "border"})


def test_decode_refuses_a_bomb_from_its_header_and_garbage() -> None:
    from tests.deploy_helpers import bomb_png, png_bytes

    with pytest.raises(ImageRejected) as err:
        decode_image(bomb_png(), 40_000_000, "bomb.png")
    assert err.value.status == 413 and "bomb.png" in str(err.value)
    with pytest.raises(ImageRejected) as err:
        decode_image(png_bytes()[:60], 40_000_000, "cut.png")
    assert err.value.status == 400
    with pytest.raises(ImageRejected, match="not an image"):
        decode_image(b"%PDF-1.4 not an image", 40_000_000)
    big = decode_image(png_bytes((300, 200)), 40_000_000)
    assert big.size == (300, 200) and big.mode == "RGB"
    with pytest.raises(ImageRejected, match="60,000 pixels, over the limit of 59,999"):
        decode_image(png_bytes((300, 200)), 59_999)
    assert torch.is_tensor(eval_transform(LITE0)(big))
