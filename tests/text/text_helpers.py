"""Helpers for the text tests: small labelled text files and a fast config."""

from __future__ import annotations

import csv
import json
from pathlib import Path

POSITIVE = ("great", "wonderful", "superb", "moving", "brilliant", "delightful")
NEGATIVE = ("awful", "boring", "dull", "clumsy", "tedious", "dreadful")
FILLER = ("the", "film", "was", "a", "story", "and", "cast", "quite", "really", "plot")


def review(i: int, positive: bool) -> str:
    words = POSITIVE if positive else NEGATIVE
    return (
        f"{FILLER[i % 10]} {words[i % 6]} {FILLER[(i * 3) % 10]} {words[(i + 2) % 6]} "
        f"{FILLER[(i * 7) % 10]}"
    )


def rows(n_train: int = 16, n_val: int = 8) -> list[dict[str, str]]:
    out = []
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            pos = i % 2 == 0
            out.append(
                {"review": review(i, pos), "label": "fresh" if pos else "rotten", "split": split}
            )
    return out


def write_csv(path: Path, records: list[dict[str, str]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(records[0]), delimiter=delimiter)
        w.writeheader()
        w.writerows(records)
    return path


def write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def tiny_text_config(model: Path, **kw):
    """A fast config for the tiny random BERT (fp32 reference, no progress bars)."""
    from headstart.text.config import TextConfig

    base = dict(
        model=str(model),
        text_col="review",
        epochs=1,
        batch_size=4,
        max_length=32,
        precision="fp32",
        progress=False,
        device="cpu",
    )
    base.update(kw)
    return TextConfig(**base)
