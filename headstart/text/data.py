"""``TextData``: labelled texts from CSV, TSV or JSONL, with one class map built from train.

A file may hold both splits (a ``split`` column with ``train`` / ``val`` values), or train
alone with a separate val file, or one pool split by a seeded stratified fraction.

>>> data = TextData.from_files("data/rt.csv", text_col="review", label_col="label")
>>> data.classes, len(data.train_texts), len(data.val_texts)
(('fresh', 'rotten'), 2000, 1000)
"""

from __future__ import annotations

import csv
import json
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headstart.data.classmap import ClassMap
from headstart.data.hf import text_splits
from headstart.data.sources import VAL_ALIASES, stratified_indices
from headstart.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# Reviews and documents can be long: lift the csv module's 128 KiB default per field.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Row:
    line: int  # where the record is in the file (1-based), for error messages
    fields: dict[str, Any]


def read_text_file(path: str | Path) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark is allowed); never modified."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path} is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}); "
            "re-save it as UTF-8"
        ) from None


def read_rows(path: str | Path) -> list[Row]:
    """Records of a CSV / TSV (header row) or JSONL (one object per line) file."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown format '{path.suffix}'; use .csv, .tsv or .jsonl")
    text = read_text_file(path)
    rows: list[Row] = []
    if kind == "jsonl":
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise DataError(f"{path}: line {i} is not valid JSON") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}: line {i} is not a JSON object")
            rows.append(Row(i, obj))
    else:
        reader = csv.DictReader(
            text.splitlines(keepends=True), delimiter="\t" if kind == "tsv" else ","
        )
        try:
            for rec in reader:
                rows.append(Row(reader.line_num, dict(rec)))
        except csv.Error as err:
            raise DataError(
                f"{path}: malformed {kind.upper()} on line {reader.line_num} ({err})"
            ) from None
    if not rows:
        raise DataError(f"{path} has no data rows")
    return rows


def columns_of(rows: list[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows[:100]:
        seen.update({str(k): None for k in r.fields if k is not None})
    return list(seen)


def pick(rows: list[Row], column: str, path: Path, option: str) -> list[str]:
    """The values of ``column`` as stripped strings; missing column or empty cells are errors."""
    found = columns_of(rows)
    if column not in found:
        raise DataError(
            f"{path} has no column '{column}' ({option}); columns found: {', '.join(found)}"
        )
    values, empty = [], []
    for r in rows:
        v = r.fields.get(column)
        s = "" if v is None else str(v).strip()
        if not s:
            empty.append(r.line)
        values.append(s)
    if empty:
        shown = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
        raise DataError(
            f"{path}: {len(empty)} empty or whitespace-only value(s) in column '{column}' "
            f"(line {shown}); fill them in or remove those rows"
        )
    return values


@dataclass
class TextData:
    """Train and val texts with their labels (class names) and one class map."""

    class_map: ClassMap
    train_texts: list[str]
    train_names: list[str]
    val_texts: list[str]
    val_names: list[str]
    source: str = ""

    @property
    def classes(self) -> tuple[str, ...]:
        return self.class_map.classes

    def labels(self, split: str = "train") -> list[int]:
        names = self.train_names if split == "train" else self.val_names
        return [self.class_map.index(n) for n in names]

    def texts(self, split: str = "train") -> list[str]:
        return self.train_texts if split == "train" else self.val_texts

    def counts(self, split: str = "train") -> dict[str, int]:
        c = Counter(self.train_names if split == "train" else self.val_names)
        return {name: c.get(name, 0) for name in self.classes}

    @classmethod
    def from_files(
        cls,
        data: str | Path,
        val: str | Path | None = None,
        text_col: str = "text",
        label_col: str = "label",
        split_col: str = "split",
        val_fraction: float = 0.2,
        seed: int = 0,
    ) -> TextData:
        """Read ``data`` (and ``val``); see the module docstring for the three layouts."""
        path = Path(data)
        rows = read_rows(path)
        texts = pick(rows, text_col, path, "--text-col")
        names = pick(rows, label_col, path, "--label-col")
        if val is not None:
            vpath = Path(val)
            vrows = read_rows(vpath)
            return cls.build(
                texts,
                names,
                pick(vrows, text_col, vpath, "--text-col"),
                pick(vrows, label_col, vpath, "--label-col"),
                str(path),
            )
        if split_col in columns_of(rows):
            return cls._from_split_column(rows, texts, names, path, split_col)
        return cls.split_by_fraction(texts, names, val_fraction, seed, str(path))

    @classmethod
    def from_hf(
        cls,
        spec: str,
        text_col: str | None = "text",
        label_col: str | None = "label",
        val_fraction: float = 0.2,
        seed: int = 0,
    ) -> TextData:
        """A Hugging Face data set, ``hf:NAME_OR_DIR`` (``headstart/data/hf.py``): its
        validation split, else a seeded stratified ``val_fraction`` of train."""
        splits = text_splits(spec, text_col, label_col)
        texts, names = splits["train"]
        if "val" in splits:
            return cls.build(texts, names, *splits["val"], spec)
        return cls.split_by_fraction(texts, names, val_fraction, seed, spec)

    @classmethod
    def split_by_fraction(
        cls, texts: list[str], names: list[str], fraction: float, seed: int, source: str
    ) -> TextData:
        """Train and val from one list: a seeded, stratified ``fraction`` of each class."""
        tr, va = stratified_indices(names, fraction, seed, in_order=True)
        return cls.build(
            [texts[i] for i in tr],
            [names[i] for i in tr],
            [texts[i] for i in va],
            [names[i] for i in va],
            source,
        )

    @classmethod
    def _from_split_column(
        cls, rows: list[Row], texts: list[str], names: list[str], path: Path, split_col: str
    ) -> TextData:
        splits = [str(r.fields.get(split_col) or "").strip().lower() for r in rows]
        bad = sorted({s for s in splits if s not in ("train", "test", *VAL_ALIASES)})
        if bad:
            raise DataError(
                f"{path}: column '{split_col}' holds {', '.join(map(repr, bad))}; "
                "use train, val or test"
            )
        tr = [i for i, s in enumerate(splits) if s == "train"]
        va = [i for i, s in enumerate(splits) if s in VAL_ALIASES]
        return cls.build(
            [texts[i] for i in tr],
            [names[i] for i in tr],
            [texts[i] for i in va],
            [names[i] for i in va],
            str(path),
        )

    @classmethod
    def build(
        cls,
        train_texts: list[str],
        train_names: list[str],
        val_texts: list[str],
        val_names: list[str],
        source: str = "",
    ) -> TextData:
        """Class map from train; val must use only those classes (same rules as images)."""
        where = source or "the data"
        if not train_texts:
            raise DataError(f"{where} has no training texts")
        class_map = ClassMap.from_names(train_names)
        if len(class_map) < 2:
            raise DataError(
                f"{where}: train has {len(class_map)} class ({', '.join(class_map.classes)}); "
                "classification needs at least 2 labels"
            )
        if not val_texts:
            raise DataError(f"{where} has no validation texts; add a val split or --val FILE")
        lacking = class_map.check_split(val_names, "val")
        if lacking:
            warnings.warn(f"val has no texts of class(es) {', '.join(lacking)}", stacklevel=2)
        return cls(class_map, train_texts, train_names, val_texts, val_names, source)
