"""Hugging Face ``datasets`` as input: ``hf:NAME_OR_DIR``.

``NAME_OR_DIR`` is a ``Dataset`` / ``DatasetDict`` saved with ``save_to_disk`` (read with
``datasets.load_from_disk``), a folder of (or one) ``.parquet`` / ``.arrow`` files, or a hub
name (``load_dataset(NAME)``: from the local Hugging Face cache, or downloaded when online).

Splits: ``train``, and ``validation`` / ``val`` / ``valid`` as validation (else a seeded,
stratified ``val_fraction`` of train), ``test`` as test. Columns: ``--image-col`` /
``--text-col`` and ``--label-col``, by default the first ``Image`` column and the first
``ClassLabel`` column (else ``label``). The class names of a ``ClassLabel`` become the class
map; other labels are read as text.

Image columns are written once to files in the cache (``HEADSTART_CACHE/hf/``), keyed by the
data set's fingerprint, so the feature cache, the doctor and every image path of headstart see
ordinary files; images that are already files are used where they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headstart.data.sources import Sample, stratified_split
from headstart.errors import DataError
from headstart.io import default_cache_dir, write_bytes_atomic

PREFIX = "hf:"
VAL_SPLITS = ("validation", "val", "valid", "dev")
FILE_KINDS = {".parquet": "parquet", ".arrow": "arrow"}


def is_hf(spec: Any) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


def load_splits(spec: str) -> dict[str, Any]:
    """The splits of ``hf:NAME_OR_DIR`` as ``{name: datasets.Dataset}``."""
    import datasets

    name = spec[len(PREFIX) :]
    if not name:
        raise DataError("hf: needs a name or a folder, e.g. hf:data/my_dataset or hf:beans")
    path = Path(name).expanduser()
    try:
        if path.is_dir() and any((path / f).is_file() for f in ("dataset_dict.json", "state.json")):
            loaded = datasets.load_from_disk(str(path))
        elif path.exists():
            kind, files = _file_args(path)
            loaded = datasets.load_dataset(kind, data_files=files)
        else:
            loaded = datasets.load_dataset(name)
    except (
        OSError,
        ValueError,
        FileNotFoundError,
        datasets.exceptions.DatasetNotFoundError,
    ) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"cannot load the data set {spec}: {first} (give a folder written by "
            "Dataset.save_to_disk, .parquet/.arrow files, or a hub name when online)"
        ) from None
    if isinstance(loaded, datasets.Dataset):
        return {"train": loaded}
    return dict(loaded)


def _file_args(path: Path) -> tuple[str, dict[str, list[str]]]:
    """``load_dataset`` arguments for parquet / arrow files; a file's split is its name's
    first word (``train-0000.parquet``, ``validation.arrow``), else train."""
    files = (
        [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in FILE_KINDS)
    )
    kinds = {FILE_KINDS.get(f.suffix) for f in files}
    if not files or None in kinds or len(kinds) != 1:
        raise DataError(f"{path}: give .parquet or .arrow files (of one kind), or a saved data set")
    splits: dict[str, list[str]] = {}
    for f in files:
        word = f.stem.split("-")[0].split("_")[0].lower()
        split = word if word in ("train", "test", *VAL_SPLITS) else "train"
        splits.setdefault(split, []).append(str(f))
    return kinds.pop() or "parquet", splits


def pick_column(ds: Any, given: str | None, kind: str | None, fallback: str, what: str) -> str:
    """``given``, else the first column whose feature is of ``kind``, else ``fallback``."""
    names = list(ds.column_names)
    if given is None and kind is None:
        given = fallback
    elif given is None:
        given = next((c for c, f in ds.features.items() if type(f).__name__ == kind), fallback)
    if given not in names:
        raise DataError(
            f"the data set has no {what} column '{given}' (columns: {', '.join(names)}); "
            f"name it with --{what}-col"
        )
    return given


def class_names(ds: Any, label_col: str) -> list[str] | None:
    """The names of a ``ClassLabel`` column, else ``None`` (labels read as text)."""
    feature = ds.features[label_col]
    names = getattr(feature, "names", None)
    return [str(n) for n in names] if names else None


def labels_of(ds: Any, label_col: str) -> list[str]:
    names = class_names(ds, label_col)
    values = ds[label_col]
    if names is not None:
        return [names[int(v)] for v in values]
    return [str(v) for v in values]


def split_names(splits: dict[str, Any]) -> tuple[str, str | None]:
    """The names of the train and validation splits (``None``: split train by fraction)."""
    train = "train" if "train" in splits else next(iter(splits))
    val = next((s for s in VAL_SPLITS if s in splits), None)
    return train, val


def image_samples(ds: Any, image_col: str, labels: Sequence[str], where: Path) -> list[Sample]:
    """One file per image under ``where`` (written once; files already on disk are used
    where they are), with its label."""
    import datasets

    raw = ds.cast_column(image_col, datasets.Image(decode=False))
    where.mkdir(parents=True, exist_ok=True)
    samples = []
    for i, (item, label) in enumerate(zip(raw[image_col], labels)):
        item = item or {}
        src = item.get("path")
        if item.get("bytes") is None and src and Path(src).is_file():
            samples.append(Sample(Path(src), label))
            continue
        data = item.get("bytes")
        if data is None:
            raise DataError(f"image {i} of the data set has neither bytes nor a readable file")
        suffix = Path(src).suffix.lower() if src and Path(src).suffix else ".img"
        path = where / f"{i:07d}{suffix}"
        if not path.is_file():
            write_bytes_atomic(path, data)
        samples.append(Sample(path, label))
    return samples


def image_splits(
    spec: str,
    image_col: str | None,
    label_col: str | None,
    val_fraction: float,
    seed: int,
) -> tuple[list[Sample], list[Sample], list[Sample], list[str] | None]:
    """(train, val, test) samples of ``hf:NAME_OR_DIR`` with image files in the cache, and
    the class names of a ``ClassLabel`` column (in its order)."""
    splits = load_splits(spec)
    first = next(iter(splits.values()))
    image_col = pick_column(first, image_col, "Image", "image", "image")
    label_col = pick_column(first, label_col, "ClassLabel", "label", "label")
    train_name, val_name = split_names(splits)
    out: dict[str, list[Sample]] = {}
    for name, ds in splits.items():
        key = hashlib.sha256(f"{spec}|{name}|{ds._fingerprint}|{image_col}".encode()).hexdigest()
        folder = default_cache_dir() / "hf" / key[:24]
        out[name] = image_samples(ds, image_col, labels_of(ds, label_col), folder)
    train = out[train_name]
    if val_name is None:
        train, val = stratified_split(train, val_fraction, seed)
    else:
        val = out[val_name]
    return train, val, out.get("test", []), class_names(first, label_col)


def text_splits(
    spec: str, text_col: str | None, label_col: str | None
) -> dict[str, tuple[list[str], list[str]]]:
    """``{split: (texts, labels)}`` of ``hf:NAME_OR_DIR`` (train, and val when it has one)."""
    splits = load_splits(spec)
    first = next(iter(splits.values()))
    text_col = pick_column(first, text_col, None, "text", "text")
    label_col = pick_column(first, label_col, "ClassLabel", "label", "label")
    train_name, val_name = split_names(splits)
    out = {"train": splits[train_name]}
    if val_name is not None:
        out["val"] = splits[val_name]
    return {k: ([str(t) for t in ds[text_col]], labels_of(ds, label_col)) for k, ds in out.items()}
