"""Decoding every kind of image a user has, and refusing the ones that are broken."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart.data.imagedata import ImageData
from headstart.data.images import check_image, open_image
from headstart.errors import DataError
from tests.conftest import make_folder


def test_grayscale_becomes_rgb_with_equal_channels(tmp_path):
    Image.fromarray(np.full((5, 7), 90, np.uint8), "L").save(tmp_path / "g.png")
    arr = np.asarray(open_image(tmp_path / "g.png"))
    assert arr.shape == (5, 7, 3) and (arr == 90).all()


def test_rgba_transparent_pixels_composite_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (255, 0, 0, 255)  # opaque red top, fully transparent black bottom
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    arr = np.asarray(open_image(tmp_path / "a.png"))
    assert (arr[0, 0] == (255, 0, 0)).all() and (arr[3, 3] == (255, 255, 255)).all()


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    im.putpixel((0, 0), 1)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    arr = np.asarray(open_image(tmp_path / "p.png"))
    assert (arr[0, 0] == (10, 200, 30)).all() and (arr[2, 2] == (255, 255, 255)).all()


def test_cmyk_jpeg_decodes_to_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    arr = np.asarray(open_image(tmp_path / "c.jpg")).astype(int)
    assert arr.shape == (8, 8, 3)
    r, g, b = arr[4, 4]
    assert r > 200 and g < 60 and b < 60  # red, not garbage


def test_16bit_gray_is_rescaled_not_clipped(tmp_path):
    arr16 = np.array([[0, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(arr16).save(tmp_path / "d.png")
    out = np.asarray(open_image(tmp_path / "d.png"))[0, :, 0]
    assert list(out) == [0, 128, 255]


def test_exif_rotation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)  # 10 high, 20 wide
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert open_image(tmp_path / "r.jpg").size == (10, 20)


def test_file_is_never_modified(tmp_path):
    Image.new("RGBA", (4, 4), (1, 2, 3, 0)).save(tmp_path / "x.png")
    before = (tmp_path / "x.png").read_bytes()
    open_image(tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes() == before


def _break(folder: Path) -> list[Path]:
    corrupt = folder / "train" / "red" / "corrupt.png"
    corrupt.write_bytes(b"not an image at all")
    good = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(good, "JPEG")
    truncated = folder / "val" / "blue" / "truncated.jpg"
    truncated.write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    return [corrupt, truncated]


def test_corrupt_and_truncated_images_fail_listing_every_path(tmp_path):
    root = make_folder(tmp_path / "d")
    bad = _break(root)
    data = ImageData.from_folder(root)
    with pytest.raises(DataError) as err:
        data.check_images()
    msg = str(err.value)
    assert "\n" not in msg and "--skip-bad" in msg
    for p in bad:
        assert str(p) in msg


def test_skip_bad_drops_them(tmp_path):
    root = make_folder(tmp_path / "d")
    bad = _break(root)
    data = ImageData.from_folder(root)
    skipped = data.check_images(skip_bad=True)
    assert sorted(p for p, _ in skipped) == sorted(map(str, bad))
    assert all(s.path not in bad for s in data.train + data.val)
    assert check_image(bad[0]) is not None and bad[0].read_bytes() == b"not an image at all"


def test_hidden_folders_and_files_are_ignored(tmp_path):
    root = make_folder(tmp_path / "d")
    (root / "train" / ".ipynb_checkpoints").mkdir()
    (root / "train" / ".ipynb_checkpoints" / "x.png").write_bytes(b"junk")
    (root / "train" / "red" / ".hidden.png").write_bytes(b"junk")
    data = ImageData.from_folder(root)
    assert data.classes == ("blue", "green", "red")
    assert not data.check_images()


def test_empty_class_folder_is_an_error(tmp_path):
    root = make_folder(tmp_path / "d")
    (root / "train" / "yellow").mkdir()
    with pytest.raises(DataError, match=r"yellow holds no images"):
        ImageData.from_folder(root)


def test_single_class_is_an_error(tmp_path):
    root = make_folder(tmp_path / "d", classes={"only": (1, 2, 3)})
    with pytest.raises(DataError, match="at least 2"):
        ImageData.from_folder(root)


def test_val_class_unknown_to_train_is_an_error(tmp_path):
    root = make_folder(tmp_path / "d")
    (root / "val" / "red").rename(root / "val" / "crimson")
    with pytest.raises(DataError, match="val has classes that train does not: crimson"):
        ImageData.from_folder(root)


def test_val_missing_a_class_warns_loudly(tmp_path):
    root = make_folder(tmp_path / "d")
    for f in (root / "val" / "red").iterdir():
        f.unlink()
    (root / "val" / "red").rmdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ImageData.from_folder(root)
    assert any("val has no images of class(es) red" in str(w.message) for w in caught)


def test_one_folder_split_is_stratified_and_seeded(tmp_path):
    root = tmp_path / "flat"
    make_folder(root, n_train=10, n_val=0)
    flat = root / "train"
    a = ImageData.from_folder(flat, val_fraction=0.3, seed=1)
    b = ImageData.from_folder(flat, val_fraction=0.3, seed=1)
    assert [s.path for s in a.val] == [s.path for s in b.val]
    assert a.counts("val") == {"blue": 3, "green": 3, "red": 3}
    assert not {s.path for s in a.train} & {s.path for s in a.val}


def test_class_subset_remaps_labels(tmp_path):
    root = make_folder(tmp_path / "d")
    data = ImageData.from_folder(root, classes=["red", "blue"])
    assert data.classes == ("red", "blue")
    assert set(data.labels("train")) == {0, 1}


def test_manifest_csv(tmp_path):
    root = make_folder(tmp_path / "d")
    rows = ["path,label"] + [
        f"{p.relative_to(root)},{p.parent.name}" for p in sorted((root / "train").rglob("*.png"))
    ]
    (root / "train.csv").write_text("\n".join(rows))
    data = ImageData.from_manifest(root / "train.csv", val_fraction=0.34)
    assert data.classes == ("blue", "green", "red") and len(data.val) == 6
    (root / "bad.csv").write_text("file,class\nx.png,red\n")
    with pytest.raises(DataError, match="lacks column"):
        ImageData.from_manifest(root / "bad.csv")
