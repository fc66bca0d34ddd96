"""Reading labelled texts: the three layouts, the three formats, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from text_helpers import rows, write_csv, write_jsonl

from headstart.errors import DataError
from headstart.text.data import TextData


def read(path: Path, **kw) -> TextData:
    return TextData.from_files(path, text_col="review", **kw)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_formats_give_the_same_data(tmp_path: Path, fmt: str) -> None:
    records = rows(6, 4)
    if fmt == "jsonl":
        path = write_jsonl(tmp_path / "d.jsonl", records)
    else:
        path = write_csv(tmp_path / f"d.{fmt}", records, "\t" if fmt == "tsv" else ",")
    data = read(path)
    assert data.classes == ("fresh", "rotten")  # sorted, from train
    assert len(data.train_texts) == 6 and len(data.val_texts) == 4
    assert data.train_texts[0] == records[0]["review"]
    assert data.labels("val") == [0, 1, 0, 1]


def test_separate_val_file_and_fraction_split(tmp_path: Path) -> None:
    records = rows(10, 0)
    train = write_csv(
        tmp_path / "train.csv", [{k: v for k, v in r.items() if k != "split"} for r in records]
    )
    val = write_csv(tmp_path / "val.csv", [{"review": "dull", "label": "rotten"}])
    with pytest.warns(UserWarning, match="val has no texts of class"):
        assert read(train, val=val).val_texts == ["dull"]
    split = read(train, val_fraction=0.2, seed=0)
    assert len(split.val_texts) == 2 and set(split.val_names) == {"fresh", "rotten"}
    assert not set(split.val_texts) & set(split.train_texts)
    assert read(train, val_fraction=0.2, seed=0).val_texts == split.val_texts  # seeded


def test_missing_column_lists_the_columns_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", rows(4, 2))
    with pytest.raises(
        DataError,
        match=r"no column 'text' \(--text-col\); columns found: "
        r"review, label, split",
    ):
        TextData.from_files(path)  # default --text-col text
    with pytest.raises(DataError, match=r"no column 'Label' \(--label-col\)"):
        read(path, label_col="Label")


@pytest.mark.parametrize("blank", ["", "   \t "])
def test_empty_or_whitespace_texts_are_refused_with_their_lines(tmp_path: Path, blank: str) -> None:
    records = rows(6, 2)
    records[2]["review"] = blank
    path = write_csv(tmp_path / "d.csv", records)
    with pytest.raises(
        DataError,
        match=r"1 empty or whitespace-only value\(s\) in column "
        r"'review' \(line 4\)",
    ):
        read(path)


def test_val_label_unseen_in_train_is_an_error(tmp_path: Path) -> None:
    records = rows(6, 2) + [{"review": "meh", "label": "mixed", "split": "val"}]
    with pytest.raises(DataError, match="val has classes that train does not: mixed"):
        read(write_csv(tmp_path / "d.csv", records))


def test_single_class_is_an_error(tmp_path: Path) -> None:
    records = [r for r in rows(6, 2) if r["label"] == "fresh"]
    with pytest.raises(
        DataError,
        match=r"train has 1 class \(fresh\); classification needs "
        "at least 2",
    ):
        read(write_csv(tmp_path / "d.csv", records))


def test_non_utf8_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("review,label,split\ncaf\xe9 society,fresh,train\n".encode("latin-1"))
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"latin1.csv is not UTF-8 text \(byte 0xe9 on line 2\)"):
        read(path)
    assert path.read_bytes() == before


def test_utf8_with_bom_and_unicode_texts_are_read(tmp_path: Path) -> None:
    records = rows(4, 2)
    records[0]["review"] = "Amélie — charmant, très réussi 🎬"
    path = write_csv(tmp_path / "d.csv", records)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read(path).train_texts[0] == "Amélie — charmant, très réussi 🎬"


def test_extremely_long_field_is_read(tmp_path: Path) -> None:
    records = rows(4, 2)
    records[1]["review"] = "word " * 60_000  # 300k characters: over csv's default field limit
    assert len(read(write_csv(tmp_path / "d.csv", records)).train_texts[1]) > 250_000


def test_bad_split_values_unknown_format_and_bad_jsonl(tmp_path: Path) -> None:
    records = rows(4, 2)
    records[0]["split"] = "training"
    with pytest.raises(DataError, match="column 'split' holds 'training'; use train, val or test"):
        read(write_csv(tmp_path / "d.csv", records))
    xlsx = tmp_path / "d.xlsx"
    xlsx.write_text("x")
    with pytest.raises(DataError, match=r"unknown format '.xlsx'"):
        read(xlsx)
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"review": "ok", "label": "fresh"}\n{broken\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read(bad)
