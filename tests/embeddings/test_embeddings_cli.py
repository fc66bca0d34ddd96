"""``headstart embed / index / search / probe / map / fewshot / verify`` as a user runs them,
with timm's tiny random ``test_efficientnet`` (plumbing, no accuracy claimed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headstart.cli.main import main
from tests.conftest import TINY, make_folder

MODEL = ["--backbone", TINY, "--weights", "random", "--precision", "fp32"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-emb")
    make_folder(root / "data", n_train=6, n_val=3)
    assert (
        main(["embed", str(root / "data"), "--out", str(root / "emb"), "--no-progress", *MODEL])
        == 0
    )
    return root


def test_embed_index_search_probe_map(workspace, capsys):
    root = workspace
    assert main(["index", str(root / "emb"), "--check", "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "flat index of 27 vectors" in out and "recall@3 vs exact 1.0000" in out
    query = root / "data" / "val" / "blue" / "2.png"
    sheet = root / "sheet.png"
    assert (
        main(
            [
                "search",
                str(root / "emb" / "index"),
                str(query),
                "--k",
                "2",
                "--json",
                "--sheet",
                str(sheet),
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert hits[0]["path"] == str(query) and sheet.is_file()
    assert main(["probe", str(root / "emb"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_test"] == 9
    assert main(["map", str(root / "emb"), "--method", "pca"]) == 0
    assert (root / "emb" / "map-pca.png").is_file()
    html = (root / "emb" / "report.html").read_text()
    assert "data:image/png;base64" in html and "linear probe accuracy" in html


def test_index_add_images(workspace, tmp_path, capsys):
    root = workspace
    index = tmp_path / "index"
    assert main(["index", str(root / "emb"), "--out", str(index)]) == 0
    new = make_folder(tmp_path / "new", n_train=1, n_val=0)
    assert main(["index", str(index), "--add", str(new / "train")]) == 0
    assert "added 3 of 3" in capsys.readouterr().out
    assert json.loads((index / "index.json").read_text())["n"] == 30


def test_fewshot_classify_and_eval(workspace, capsys):
    root = workspace
    assert (
        main(
            [
                "fewshot",
                str(root / "data" / "train"),
                str(root / "data" / "val" / "red"),
                *MODEL[:4],
                "--json",
            ]
        )
        == 0
    )
    preds = json.loads(capsys.readouterr().out)
    assert len(preds) == 3 and all(p["top"][0]["class"] == "red" for p in preds)
    assert (
        main(
            [
                "fewshot",
                "eval",
                str(root / "data"),
                "--backbone",
                "pixels:8",
                "--ways",
                "3",
                "--shots",
                "1",
                "--queries",
                "2",
                "--episodes",
                "20",
                "--json",
            ]
        )
        == 0
    )
    score = json.loads(capsys.readouterr().out)[0]
    assert score["shots"] == 1 and score["episodes"] == 20 and 0 <= score["mean"] <= 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["probe", "{tmp}"], "holds no embeddings"),
        (["search", "{tmp}", "x.png"], "not an index"),
        (["fewshot", "eval", "{data}", "--ways", "5", "--backbone", "pixels:8"], "5-way"),
        (["verify", "a.png", "b.png", "--model", "{tmp}"], "no checkpoint"),
        (["zeroshot", "{data}", "--labels", "cat"], "at least 2"),
        (["zeroshot", "{data}", "--labels", "a,b", "--model", "resnet"], "--model 'resnet'"),
    ],
)
def test_mistakes_are_one_line_exit_2(workspace, tmp_path, capsys, argv, message):
    args = [a.format(tmp=tmp_path, data=workspace / "data") for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("headstart: error") and message in err and "\n" not in err
