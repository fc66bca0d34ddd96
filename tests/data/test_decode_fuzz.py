"""Fuzzing the image decode path: damaged real files are decoded or reported, never more.

Real PNG, JPEG, WebP and TIFF files (a photo from scikit-image, written by Pillow's encoders in
several modes) are truncated, bit-flipped and have their headers edited by hypothesis; then
``check_image`` (what every command runs over its data first) and ``open_image`` (what
training, embedding and reports decode with) must agree: the file decodes to an RGB image, or
``check_image`` gives a reason and ``open_image`` raises a ``DataError`` naming the file. No
other exception, no file over a time limit, and the file is never modified. Decompression
bombs (tiny files that claim or hold huge images) are refused the same way.
"""

from __future__ import annotations

import faulthandler
import hashlib
import io
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from headstart.data.images import check_image, open_image
from headstart.errors import DataError

SECONDS_PER_FILE = 5.0  # a 64x64 file decodes in milliseconds; a hang is caught at 60 s


def _photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((64, 48))


def _encode(fmt: str, mode: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    _photo().convert(mode).save(buf, fmt, **kw)
    return buf.getvalue()


SEEDS = {
    "png-rgb": (".png", _encode("PNG", "RGB")),
    "png-rgba": (".png", _encode("PNG", "RGBA")),
    "png-palette": (".png", _encode("PNG", "P")),
    "jpeg": (".jpg", _encode("JPEG", "RGB", quality=90)),
    "jpeg-progressive": (".jpg", _encode("JPEG", "L", progressive=True)),
    "webp": (".webp", _encode("WEBP", "RGB", quality=80)),
    "webp-lossless": (".webp", _encode("WEBP", "RGBA", lossless=True)),
    "tiff": (".tif", _encode("TIFF", "RGB")),
    "tiff-deflate": (".tif", _encode("TIFF", "CMYK", compression="tiff_deflate")),
}


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file, truncated, with flipped bits and/or with bytes of its header rewritten."""
    suffix, data = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    buf = bytearray(data)
    for edit in draw(st.lists(st.sampled_from(["truncate", "flip", "header"]), max_size=3)):
        if edit == "truncate" and buf:
            del buf[draw(st.integers(0, len(buf) - 1)) :]
        elif edit == "flip" and buf:
            for _ in range(draw(st.integers(1, 8))):
                buf[draw(st.integers(0, len(buf) - 1))] ^= 1 << draw(st.integers(0, 7))
        elif edit == "header" and buf:
            at = draw(st.integers(0, min(len(buf), 64) - 1))
            new = draw(st.binary(min_size=1, max_size=8))
            buf[at : at + len(new)] = new
    return suffix, bytes(buf)


def assert_decoded_or_reported(path: Path) -> None:
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    faulthandler.dump_traceback_later(60, exit=True)  # a hang kills the run with a traceback
    start = time.perf_counter()
    try:
        reason = check_image(path)
        try:
            image = open_image(path)
        except DataError as err:
            assert reason is not None, f"check_image passed {path} but decoding failed: {err}"
            assert str(path) in str(err) and "\n" not in str(err)
        else:
            assert reason is None, f"check_image refused {path} that decodes: {reason}"
            assert image.mode == "RGB" and image.width > 0 and image.height > 0
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert time.perf_counter() - start < SECONDS_PER_FILE, f"{path} took too long"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, f"{path} was modified"


def test_the_seed_files_decode(tmp_path):
    for name, (suffix, data) in SEEDS.items():
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        assert check_image(path) is None and open_image(path).size == (64, 48), name


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same files on every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=damaged())
def test_damaged_files_are_decoded_or_reported_with_their_path(case, tmp_path):
    suffix, data = case
    path = tmp_path / f"damaged file{suffix}"
    path.write_bytes(data)
    assert_decoded_or_reported(path)


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG signature and header for a ``width`` x ``height`` image, with one tiny
    compressed row of data: the decoder learns the size before it reads a pixel."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = zlib.compress(b"\0" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _real_bomb() -> bytes:
    """A real 10,000 x 9,000 one-bit PNG (90 M pixels, just past PIL's limit) of 11 kB."""
    buf = io.BytesIO()
    Image.new("1", (10_000, 9_000)).save(buf, "PNG")
    return buf.getvalue()


BOMBS = {
    "claims-10-gigapixels.png": lambda: _png_claiming(100_000, 100_000),
    "claims-100-megapixels.png": lambda: _png_claiming(10_000, 10_000),
    "real-90-megapixels.png": _real_bomb,
}


@pytest.mark.parametrize("name", BOMBS)
def test_decompression_bombs_are_refused_with_their_path(tmp_path, name):
    path = tmp_path / name
    data = BOMBS[name]()
    path.write_bytes(data)
    assert len(data) < 200_000
    assert check_image(path) is not None
    with pytest.raises(DataError, match="decompression bomb|exceeds limit"):
        open_image(path)
    assert_decoded_or_reported(path)
