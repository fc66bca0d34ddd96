"""Helpers for the export and serve tests: a tiny trained image run and its export.

The model is timm's randomly initialised ``test_efficientnet`` trained for one epoch on
generated colour images: these tests check plumbing (files, parity, limits), never accuracy.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_folder, tiny_config


def tiny_run(root: Path) -> Path:
    """A one-epoch run of the tiny random model on 3 colour classes; returns its run dir."""
    from headstart.classify.fit import fit

    data = make_folder(root / "data", n_train=8, n_val=4)
    cfg = tiny_config(out=str(root / "runs"), report=False, epochs=1, cache_dir=str(root / "c"))
    return fit(str(data), cfg).run_dir


def png_bytes(
    size: tuple[int, int] = (40, 30), colour=(200, 30, 30), mode: str = "RGB", noise: float = 20
) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    arr = np.clip(np.array(colour) + rng.normal(0, noise, (size[1], size[0], 3)), 0, 255)
    Image.fromarray(arr.astype(np.uint8)).convert(mode).save(buf, "PNG")
    return buf.getvalue()


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid PNG header announcing ``width x height`` pixels, with almost no data: a
    decoder that trusted it would allocate 400 million pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    idat = zlib.compress(b"\x00" * (width + 1))  # one row of zeros
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("image-run"))


@pytest.fixture(scope="session")
def image_export(image_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from headstart.export.options import ExportOptions
    from headstart.export.run import export_run

    out = tmp_path_factory.mktemp("exports") / "tiny"
    # A random model's int8 accuracy means nothing: the drop limit is lifted (plumbing only).
    opts = ExportOptions(out=str(out), quantize="int8", max_int8_drop=100.0)
    return export_run(image_run, opts).folder
