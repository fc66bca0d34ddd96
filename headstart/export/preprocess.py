"""Image preprocessing in NumPy and Pillow: the eval transform of a backbone, without PyTorch.

It reproduces timm's eval transform step by step (shorter side resized to
``floor(size / crop_pct)`` with the weights' interpolation, center crop, scale to [0, 1],
normalize by mean and std), so an exported model sees the numbers the trained one saw;
``tests/export`` checks it against ``headstart.data.transforms.eval_transform``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from headstart.data.images import to_rgb
from headstart.errors import DataError

CROP_MODES = ("center", "squash")
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")  # decoders a server accepts
_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


class ImageRejected(DataError):
    """An image refused before or while decoding; ``status`` is the HTTP status it earns."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def preprocessing_of(data_config: dict[str, Any]) -> dict[str, Any]:
    """The plain-JSON preprocessing an export records, from a backbone's data config."""
    mode = data_config.get("crop_mode") or "center"
    _, h, w = data_config["input_size"]
    if mode not in CROP_MODES or (mode == "center" and h != w):
        raise DataError(
            f"export supports square center-crop or squash preprocessing, not crop_mode "
            f"'{mode}' at {h}x{w}"
        )
    if data_config["interpolation"] not in _INTERPOLATION:
        raise DataError(f"interpolation '{data_config['interpolation']}' is not supported")
    return {
        "input_size": [3, int(h), int(w)],
        "interpolation": data_config["interpolation"],
        "crop_pct": float(data_config.get("crop_pct") or 0.875),
        "crop_mode": mode,
        "mean": [float(v) for v in data_config["mean"]],
        "std": [float(v) for v in data_config["std"]],
    }


def resize_crop(im: Image.Image, prep: dict[str, Any]) -> Image.Image:
    """Resize then center crop ``im`` to the model's input size, as torchvision does it."""
    _, h, w = prep["input_size"]
    pct = prep["crop_pct"]
    interp = _INTERPOLATION[prep["interpolation"]]
    if prep["crop_mode"] == "squash":
        im = im.resize((math.floor(w / pct), math.floor(h / pct)), interp)
    else:
        short = math.floor(h / pct)
        iw, ih = im.size
        size = (short, int(short * ih / iw)) if iw <= ih else (int(short * iw / ih), short)
        im = im.resize(size, interp)
    iw, ih = im.size
    if iw < w or ih < h:  # only when crop_pct > 1: pad with black, as CenterCrop does
        canvas = Image.new("RGB", (max(iw, w), max(ih, h)))
        canvas.paste(im, ((canvas.width - iw) // 2, (canvas.height - ih) // 2))
        im, (iw, ih) = canvas, canvas.size
    top, left = int(round((ih - h) / 2.0)), int(round((iw - w) / 2.0))
    return im.crop((left, top, left + w, top + h))


def to_array(images: Sequence[Image.Image], prep: dict[str, Any]) -> np.ndarray:
    """A float32 batch ``(n, 3, H, W)``: resized, cropped, scaled to [0, 1] and normalized."""
    mean = np.asarray(prep["mean"], np.float32).reshape(3, 1, 1)
    std = np.asarray(prep["std"], np.float32).reshape(3, 1, 1)
    _, h, w = prep["input_size"]
    out = np.empty((len(images), 3, h, w), np.float32)
    for i, im in enumerate(images):
        arr = np.asarray(resize_crop(to_rgb(im), prep), np.float32).transpose(2, 0, 1)
        out[i] = (arr / 255.0 - mean) / std
    return out


def decode_image(data: bytes, max_pixels: int, name: str = "image") -> Image.Image:
    """Decode uploaded bytes to an upright RGB image, refusing what is too big to decode.

    The pixel count is read from the header and checked before any pixel is decoded, so a
    small file that expands to gigabytes (a decompression bomb) costs nothing. Pillow's own
    guard (``Image.MAX_IMAGE_PIXELS``) stays in force beside it and is answered the same way.
    """
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as err:
        raise ImageRejected(f"{name}: {err}", 413) from None
    except Exception as err:  # noqa: BLE001 - any decoder failure means an unusable file
        raise ImageRejected(f"{name} is not an image headstart can decode ({_why(err)})") from None
    with im:
        pixels = im.width * im.height
        if pixels > max_pixels:
            raise ImageRejected(
                f"{name} is {im.width}x{im.height} = {pixels:,} pixels, over the limit of "
                f"{max_pixels:,}; send a smaller image",
                413,
            )
        if pixels < 1:
            raise ImageRejected(f"{name} is an empty image")
        try:
            im.load()
            return to_rgb(ImageOps.exif_transpose(im))
        except Exception as err:  # noqa: BLE001 - truncated or corrupt pixel data
            raise ImageRejected(f"{name} cannot be decoded ({_why(err)})") from None


def _why(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:200]
