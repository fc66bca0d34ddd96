"""``headstart text train | predict`` from the command line, and bad input as a user meets it.

Plumbing tests on a tiny randomly initialised BERT (see conftest.py), never accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headstart.cli.main import main

FAST = [
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--max-length",
    "32",
    "--precision",
    "fp32",
    "--device",
    "cpu",
    "--no-progress",
]


def train(tiny_bert: Path, data: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "text",
            "train",
            str(data),
            "--text-col",
            "review",
            "--label-col",
            "label",
            "--model",
            str(tiny_bert),
            "--out",
            str(out),
            "--name",
            "cli",
            *FAST,
            *extra,
        ]
    )


def test_train_then_predict_texts_and_a_file(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tiny_bert, reviews_csv, tmp_path, "--strategy", "ia3") == 0
    run = tmp_path / "text" / "cli"
    assert (run / "checkpoints" / "best.safetensors").is_file() and (run / "report.html").is_file()
    capsys.readouterr()
    more = tmp_path / "more.txt"
    more.write_text("dull and tedious\n\n  a brilliant cast  \n", encoding="utf-8")
    assert main(["text", "predict", str(run), "a superb film", "--file", str(more), "--json"]) == 0
    preds = json.loads(capsys.readouterr().out)
    assert [p["text"] for p in preds] == ["a superb film", "dull and tedious", "a brilliant cast"]
    assert all({t["class"] for t in p["top"]} == {"fresh", "rotten"} for p in preds)
    assert main(["text", "predict", str(run), "a superb film"]) == 0
    assert capsys.readouterr().out.startswith("a superb film: ")


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("headstart: error:")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err)
    return errors[0]


def test_misnamed_column_is_one_line_listing_the_columns(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "text",
            "train",
            str(reviews_csv),
            "--text-col",
            "Review",
            "--model",
            str(tiny_bert),
            "--out",
            str(tmp_path),
            *FAST,
        ]
    )
    assert rc == 2
    assert "no column 'Review' (--text-col); columns found: review, label, split" in one_error_line(
        capsys
    )
    assert not (tmp_path / "text").exists()


def test_non_utf8_data_and_predict_file(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "cp1252.tsv"
    bad.write_bytes("review\tlabel\n\u201cquoted\u201d\tfresh\n".encode("cp1252"))
    assert train(tiny_bert, bad, tmp_path) == 2
    assert "cp1252.tsv is not UTF-8 text" in one_error_line(capsys)
    assert train(tiny_bert, reviews_csv, tmp_path, "--strategy", "frozen") == 0
    capsys.readouterr()
    assert main(["text", "predict", str(tmp_path / "text" / "cli"), "--file", str(bad)]) == 2
    assert "re-save it as UTF-8" in one_error_line(capsys)
    assert main(["text", "predict", str(tmp_path / "text" / "cli")]) == 2
    assert "no texts given" in one_error_line(capsys)
