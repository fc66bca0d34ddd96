"""Embeddings on disk: ``vectors.npy`` (memory-mapped), ``items.csv`` and ``meta.json``.

``items.csv`` has one row per vector: ``id`` (path relative to the data root), ``path``,
``label`` (class folder, empty when unknown) and ``split`` (train/val/test or empty). Every
file is written atomically and ``meta.json`` last, with the row count that the others must
match, so a folder is either complete or reported as incomplete.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headstart.data.images import is_image_file
from headstart.data.sources import find_splits, scan_class_folders
from headstart.errors import DataError
from headstart.io import atomic_path, write_json_atomic, write_text_atomic

FORMAT = "headstart-embeddings/1"
CHUNK = 8192  # rows copied at a time: large collections never sit in memory whole


@dataclass(frozen=True)
class Item:
    id: str
    path: Path
    label: str = ""
    split: str = ""


def collect_items(inputs: Sequence[str | Path], split: str | None = None) -> list[Item]:
    """The images of ``inputs`` with their labels where the folder layout gives them.

    A folder with ``train/``/``val/``/``test/`` gives labelled items of each split (only
    ``split`` when given); a folder of class folders gives labelled items; a folder of images
    or single files give unlabelled items.
    """
    items: list[Item] = []
    for entry in inputs:
        p = Path(entry)
        if p.is_file():
            items.append(Item(str(p), p))
        elif p.is_dir():
            items.extend(_folder_items(p, split))
        else:
            raise DataError(f"no such image or folder: {p}")
    if not items:
        raise DataError(f"no images found in {', '.join(map(str, inputs))}")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise DataError("the same image is given twice; pass each folder or file once")
    return items


def _folder_items(root: Path, split: str | None) -> list[Item]:
    splits = find_splits(root)
    if splits:
        if split is not None and split not in splits:
            raise DataError(f"{root} has no {split}/ folder (found: {', '.join(splits)})")
        names = [split] if split else list(splits)
        return [
            Item(str(s.path.relative_to(root)), s.path, s.label, name)
            for name in names
            for s in scan_class_folders(splits[name])
        ]
    if split is not None:
        raise DataError(f"--split {split}: {root} has no train/ val/ test/ folders")
    has_classes = any(
        c.is_dir() and not c.name.startswith(".") and any(is_image_file(f) for f in c.rglob("*"))
        for c in root.iterdir()
    )
    if has_classes:
        return [
            Item(str(s.path.relative_to(root)), s.path, s.label) for s in scan_class_folders(root)
        ]
    files = sorted(f for f in root.iterdir() if f.is_file() and is_image_file(f))
    return [Item(str(f.relative_to(root)), f) for f in files]


@dataclass
class EmbeddingSet:
    """Vectors with their items; ``vectors`` is a read-only memory map of ``vectors.npy``."""

    root: Path
    vectors: np.ndarray
    items: list[Item]
    meta: dict[str, Any]

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted({i.label for i in self.items if i.label}))

    def labels(self) -> np.ndarray:
        """Class index of each item (``classes`` order), -1 where the label is unknown."""
        index = {c: k for k, c in enumerate(self.classes)}
        return np.array([index.get(i.label, -1) for i in self.items], dtype=np.int64)

    @classmethod
    def load(cls, root: str | Path) -> EmbeddingSet:
        root = Path(root)
        meta = read_meta(
            root / "meta.json",
            f"{root} holds no embeddings (no meta.json); "
            f"create them with `headstart embed DATA --out {root}`",
        )
        vectors = np.load(root / "vectors.npy", mmap_mode="r")
        items = read_items(root / "items.csv")
        if not len(vectors) == len(items) == meta.get("n"):
            raise DataError(
                f"{root} is incomplete ({len(vectors)} vectors, {len(items)} items, "
                f"meta says {meta.get('n')}); run `headstart embed` again"
            )
        return cls(root, vectors, items, meta)


def write_vectors(path: Path, vectors: np.ndarray, extra: np.ndarray | None = None) -> Path:
    """Write ``vectors`` (then ``extra`` rows) as float32 ``.npy``, in chunks, atomically."""
    rows = len(vectors) + (len(extra) if extra is not None else 0)
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float32, shape=(rows, vectors.shape[1])
        )
        offset = 0
        for part in (vectors, extra):
            if part is None:
                continue
            for start in range(0, len(part), CHUNK):
                chunk = np.asarray(part[start : start + CHUNK], dtype=np.float32)
                out[offset : offset + len(chunk)] = chunk
                offset += len(chunk)
        out.flush()
        del out
    return path


def write_items(path: Path, items: Sequence[Item]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(("id", "path", "label", "split"))
    for it in items:
        writer.writerow((it.id, str(it.path), it.label, it.split))
    return write_text_atomic(path, buf.getvalue())


def read_meta(path: Path, missing: str) -> dict[str, Any]:
    """The JSON metadata of an embeddings or index folder; ``missing`` is the error without it."""
    if not path.is_file():
        raise DataError(missing)
    return json.loads(path.read_text(encoding="utf-8"))


def read_items(path: Path) -> list[Item]:
    if not path.is_file():
        raise DataError(f"{path} is missing; run `headstart embed` again")
    with open(path, encoding="utf-8", newline="") as fh:
        return [Item(r["id"], Path(r["path"]), r["label"], r["split"]) for r in csv.DictReader(fh)]


def save_embeddings(
    out: str | Path, vectors: np.ndarray, items: Sequence[Item], meta: dict[str, Any]
) -> EmbeddingSet:
    """Write a complete embeddings folder (vectors, items, then meta) and load it back."""
    out = Path(out)
    if len(vectors) != len(items):
        raise ValueError(f"{len(vectors)} vectors for {len(items)} items")
    write_vectors(out / "vectors.npy", vectors)
    write_items(out / "items.csv", items)
    meta = {"format": FORMAT, "n": len(items), "dim": int(vectors.shape[1]), **meta}
    write_json_atomic(out / "meta.json", meta)
    return EmbeddingSet.load(out)
