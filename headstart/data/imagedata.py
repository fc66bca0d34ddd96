"""``ImageData``: a labelled image data set with one class map, checked before training."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from headstart.data.classmap import ClassMap
from headstart.data.hf import image_splits, is_hf
from headstart.data.images import check_image, open_image
from headstart.data.sources import (
    Sample,
    read_folder_splits,
    read_manifest,
    stratified_split,
)
from headstart.errors import DataError

MANIFESTS = (".csv", ".jsonl", ".ndjson", ".json")


@dataclass
class ImageData:
    """Train / val (/ test) samples sharing one class map.

    >>> data = ImageData.from_folder("data/fmnist")            # train/ and val/ inside
    >>> data = ImageData.from_folder("photos", val_fraction=0.2, seed=0)
    >>> data.classes[:3], len(data.train), len(data.val)
    """

    class_map: ClassMap
    train: list[Sample]
    val: list[Sample]
    test: list[Sample] = field(default_factory=list)
    root: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.class_map.classes

    @classmethod
    def from_folder(
        cls,
        root: str | Path,
        val_fraction: float = 0.2,
        seed: int = 0,
        classes: Sequence[str] | None = None,
    ) -> ImageData:
        """Read ``root/train`` + ``root/val`` (+ ``root/test``), or split ``root/<class>``.

        ``classes`` fixes the class map (e.g. a checkpoint's) or selects a subset of classes.
        """
        train, val, test = read_folder_splits(Path(root), val_fraction, seed)
        return cls.build(train, val, test, classes=classes, root=str(root))

    @classmethod
    def from_manifest(
        cls,
        train: str | Path,
        val: str | Path | None = None,
        val_fraction: float = 0.2,
        seed: int = 0,
        classes: Sequence[str] | None = None,
    ) -> ImageData:
        """Read CSV/JSONL manifests of ``path,label`` rows."""
        tr = read_manifest(Path(train))
        if val is None:
            tr, va = stratified_split(tr, val_fraction, seed)
        else:
            va = read_manifest(Path(val))
        return cls.build(tr, va, [], classes=classes, root=str(train))

    @classmethod
    def from_hf(
        cls,
        spec: str,
        image_col: str | None = None,
        label_col: str | None = None,
        val_fraction: float = 0.2,
        seed: int = 0,
        classes: Sequence[str] | None = None,
    ) -> ImageData:
        """A Hugging Face data set, ``hf:NAME_OR_DIR`` (``data/hf.py``); the names of its
        ``ClassLabel`` column are the class map unless ``classes`` are given."""
        train, val, test, names = image_splits(spec, image_col, label_col, val_fraction, seed)
        return cls.build(train, val, test, classes=classes or names, root=spec)

    @classmethod
    def load(
        cls,
        source: str | Path,
        val_fraction: float = 0.2,
        seed: int = 0,
        classes: Sequence[str] | None = None,
        image_col: str | None = None,
        label_col: str | None = None,
    ) -> ImageData:
        """Whatever ``source`` is: ``hf:NAME_OR_DIR``, a CSV/JSONL manifest of ``path,label``
        rows, or a folder (``train/`` + ``val/``, or class folders split by ``val_fraction``)."""
        if is_hf(source):
            return cls.from_hf(str(source), image_col, label_col, val_fraction, seed, classes)
        if Path(source).is_file() and Path(source).suffix.lower() in MANIFESTS:
            return cls.from_manifest(source, None, val_fraction, seed, classes)
        return cls.from_folder(source, val_fraction, seed, classes)

    @classmethod
    def build(
        cls,
        train: list[Sample],
        val: list[Sample],
        test: list[Sample],
        classes: Sequence[str] | None = None,
        root: str = "",
    ) -> ImageData:
        """Build the class map from train (or ``classes``) and check every split against it."""
        if classes is not None:
            keep = set(classes)
            train = [s for s in train if s.label in keep]
            val = [s for s in val if s.label in keep]
            test = [s for s in test if s.label in keep]
            class_map = ClassMap(tuple(classes))
        else:
            class_map = ClassMap.from_names(s.label for s in train)
        if len(class_map) < 2:
            raise DataError(
                f"{root or 'the data'} has {len(class_map)} class(es) "
                f"({', '.join(class_map.classes) or 'none'}); classification needs at least 2"
            )
        for split, samples in (("train", train), ("val", val), ("test", test)):
            if not samples:
                continue
            lacking = class_map.check_split([s.label for s in samples], split)
            if lacking:
                warnings.warn(
                    f"{split} has no images of class(es) {', '.join(lacking)}",
                    stacklevel=2,
                )
        if not val:
            raise DataError(f"{root or 'the data'} has no validation images")
        return cls(class_map, train, val, test, root=root)

    def labels(self, split: str = "train") -> list[int]:
        return [self.class_map.index(s.label) for s in getattr(self, split)]

    def counts(self, split: str = "train") -> dict[str, int]:
        c = Counter(s.label for s in getattr(self, split))
        return {name: c.get(name, 0) for name in self.classes}

    def imbalance(self) -> float:
        """Largest over smallest class count in train."""
        counts = [n for n in self.counts("train").values()]
        return max(counts) / max(1, min(counts))

    def check_images(self, skip_bad: bool = False) -> list[tuple[str, str]]:
        """Decode every image; fail listing every bad path, or drop them when ``skip_bad``."""
        bad: list[tuple[str, str]] = []
        for split in ("train", "val", "test"):
            good = []
            for s in getattr(self, split):
                why = check_image(s.path)
                if why is None:
                    good.append(s)
                else:
                    bad.append((str(s.path), why))
            setattr(self, split, good)
        if bad and not skip_bad:
            listing = "; ".join(f"{p} ({why})" for p, why in bad)
            raise DataError(
                f"{len(bad)} image(s) cannot be decoded: {listing}. "
                "Fix or remove them, or pass --skip-bad to train without them"
            )
        self.skipped = bad
        return bad

    def dataset(self, split: str, transform: Callable[[Any], torch.Tensor]) -> ImageDataset:
        return ImageDataset(getattr(self, split), self.class_map, transform)


class ImageDataset(Dataset):
    """(image tensor, label) pairs, decoded on access with the given transform."""

    def __init__(self, samples: list[Sample], class_map: ClassMap, transform: Callable):
        self.samples = samples
        self.targets = [class_map.index(s.label) for s in samples]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(open_image(self.samples[i].path)), self.targets[i]


class ImageFiles(Dataset):
    """``(image tensor, 0)`` for each file, decoded with ``transform``: images and nothing else
    (no label can leak from here; the 0 is what an ``(x, _)`` unpacking expects)."""

    def __init__(self, files: Sequence[Path], transform: Callable[[Any], torch.Tensor]):
        self.files = list(files)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(open_image(self.files[i])), 0
