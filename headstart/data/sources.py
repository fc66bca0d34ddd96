"""Where samples come from: ImageFolder trees, one folder split by a seeded fraction, manifests."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headstart.data.images import is_image_file
from headstart.errors import DataError

SPLITS = ("train", "val", "test")
VAL_ALIASES = ("val", "valid", "validation")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str


def scan_class_folders(root: Path) -> list[Sample]:
    """Samples of ``root/<class>/**/<image>``, hidden files and folders ignored."""
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    samples: list[Sample] = []
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in classes:
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and is_image_file(p)
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
        if not files:
            raise DataError(
                f"class folder {folder} holds no images; add images or remove the folder"
            )
        samples.extend(Sample(p, folder.name) for p in files)
    if not samples:
        raise DataError(
            f"no class folders with images in {root}; expected {root}/<class>/<image> "
            f"or {root}/train/<class>/<image>"
        )
    return samples


def find_splits(root: Path) -> dict[str, Path]:
    """The ``train/``, ``val/`` and ``test/`` folders of an ImageFolder root, if present."""
    found: dict[str, Path] = {}
    for split, names in (("train", ("train",)), ("val", VAL_ALIASES), ("test", ("test",))):
        for name in names:
            if (root / name).is_dir():
                found[split] = root / name
                break
    return found


def read_folder_splits(
    root: Path, val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """(train, val, test) samples of ``root/{train,val,test}/<class>/*``, or of ``root/<class>/*``
    split by a seeded stratified ``val_fraction``; no class map is imposed yet."""
    splits = find_splits(root)
    if "train" in splits:
        train = scan_class_folders(splits["train"])
        val = scan_class_folders(splits["val"]) if "val" in splits else []
        if not val:
            train, val = stratified_split(train, val_fraction, seed)
        test = scan_class_folders(splits["test"]) if "test" in splits else []
        return train, val, test
    if splits:
        raise DataError(f"{root} has {'/'.join(splits)}/ but no train/ folder")
    train, val = stratified_split(scan_class_folders(root), val_fraction, seed)
    return train, val, []


def stratified_split(
    samples: list[Sample], fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Split into (train, val) with ``fraction`` of each class in val, seeded."""
    train, val = stratified_indices([s.label for s in samples], fraction, seed)
    return [samples[i] for i in train], [samples[i] for i in val]


def stratified_indices(
    labels: Sequence[str], fraction: float, seed: int, in_order: bool = False
) -> tuple[list[int], list[int]]:
    """(train, val) positions in ``labels`` with ``fraction`` of each class in val, seeded: class
    by class in shuffled order, or in the order of ``labels`` if ``in_order``."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"--val-fraction must be between 0 and 1, got {fraction}")
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for label in sorted(by_class):
        idx = by_class[label]
        order = rng.permutation(len(idx))
        n_val = max(1, round(fraction * len(idx))) if len(idx) > 1 else 0
        val.extend(idx[j] for j in order[:n_val])
        train.extend(idx[j] for j in order[n_val:])
    return (sorted(train), sorted(val)) if in_order else (train, val)


def read_manifest(path: Path) -> list[Sample]:
    """Samples from a CSV (columns ``path,label``) or JSONL (keys ``path``, ``label``) file.

    Relative paths are relative to the manifest's folder.
    """
    if not path.is_file():
        raise DataError(f"manifest not found: {path}")
    rows: list[dict[str, str]]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: invalid JSON on line {err.lineno}") from None
    else:
        rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise DataError(f"manifest {path} has no rows")
    missing = {"path", "label"} - set(rows[0])
    if missing:
        raise DataError(
            f"manifest {path} lacks column(s) {', '.join(sorted(missing))}; "
            f"found {', '.join(map(str, rows[0]))}"
        )
    samples = []
    for row in rows:
        p = Path(str(row["path"]))
        samples.append(Sample(p if p.is_absolute() else path.parent / p, str(row["label"])))
    absent = [str(s.path) for s in samples if not s.path.is_file()]
    if absent:
        raise DataError(f"manifest {path} names {len(absent)} missing file(s), e.g. {absent[0]}")
    return samples
