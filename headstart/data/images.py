"""Decoding images the way a person sees them: EXIF rotation, alpha, palette, CMYK, 16-bit."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from headstart.errors import DataError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def open_image(path: str | Path) -> Image.Image:
    """Decode ``path`` to an 8-bit RGB image, upright as its EXIF orientation says.

    Transparent pixels are composited on white; 16-bit and 32-bit gray are rescaled (not
    clipped) to 8 bits; CMYK and palette images are converted by their colour model.
    The file is only read, never modified. A file that cannot be decoded, or that would
    decode to more than ``Image.MAX_IMAGE_PIXELS`` pixels (a decompression bomb), is a
    ``DataError`` naming it.
    """
    try:
        return _decode(path)
    except Exception as err:  # noqa: BLE001 - every decoder failure means a bad file
        raise DataError(f"{path}: cannot decode the image ({_reason(err)})") from None


def _decode(path: str | Path) -> Image.Image:
    with warnings.catch_warnings():
        # Past PIL's pixel limit an image is refused, not decoded with a warning.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        # A damaged file is decoded or refused: Pillow's notes on what it skipped are noise.
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
        with Image.open(path) as im:
            im.load()
            upright: Image.Image = ImageOps.exif_transpose(im)
            return to_rgb(upright)


def _reason(err: Exception) -> str:
    lines = f"{type(err).__name__}: {err}".strip().splitlines()
    return lines[0] if lines else type(err).__name__


def to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_gray_to_uint8(np.asarray(im), im.mode)).convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _gray_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    arr = arr.astype(np.float64)
    if mode == "F":
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
    elif mode.startswith("I;16") or arr.max(initial=0) > 255:
        scale = 255.0 / 65535.0
    else:
        scale = 1.0
    return np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)


def check_image(path: str | Path) -> str | None:
    """Return why ``path`` cannot be decoded, or None when ``open_image`` will decode it."""
    try:
        im = _decode(path)
    except Exception as err:  # noqa: BLE001 - every decoder failure means a bad file
        return _reason(err)
    return "empty image" if im.width < 1 or im.height < 1 else None
