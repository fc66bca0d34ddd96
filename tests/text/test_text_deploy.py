"""``headstart text export`` and serving a text model, on the tiny random BERT (plumbing,
never accuracy): one graph with the adapter merged, the runtime's ``tokenizers`` ids equal to
the training tokenizer's, and the text endpoints with their limits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from text_helpers import tiny_text_config

from headstart.cli.main import main
from headstart.errors import HeadstartError
from headstart.export.options import ExportOptions
from headstart.export.run import export_run
from headstart.export.runtime import META_FILE, load_export
from headstart.serve.app import create_app
from headstart.serve.backends import load_backend
from headstart.serve.limits import Limits
from headstart.text.checkpoint import TextCheckpoint
from headstart.text.fit import fit_text

TEXTS = ["a great and moving film", "dull", "the plot was tedious and the cast quite clumsy " * 9]


def run(tiny_bert: Path, reviews_csv: Path, out: Path, strategy: str) -> Path:
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), strategy=strategy, out=str(out))
    return fit_text(config=cfg).run_dir


@pytest.mark.parametrize("strategy", ["lora", "frozen"])
def test_text_export_matches_pytorch(tiny_bert, reviews_csv, tmp_path, strategy) -> None:
    run_dir = run(tiny_bert, reviews_csv, tmp_path, strategy)
    opts = ExportOptions(quantize="int8", max_int8_drop=100.0)  # random model: plumbing
    folder = export_run(run_dir, opts).folder
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["task"] == "text-classification" and meta["classes"] == ["fresh", "rotten"]
    assert meta["tokenizer"]["max_length"] == 32 and (folder / "tokenizer/tokenizer.json").is_file()
    assert meta["check"]["fp32"]["n"] == 8 and meta["check"]["fp32"]["agreement"] == 1.0
    assert meta["check"]["fp32"]["max_abs_diff"] < 1e-4  # measured ~1e-7
    ckpt = TextCheckpoint.load(run_dir, precision="fp32")
    exported = load_export(folder)
    ids = exported.encode(TEXTS)  # the runtime's tokenizer truncates and pads as training did
    hf = ckpt.tokenizer(TEXTS, padding=True, truncation=True, max_length=32)
    assert ids["input_ids"].tolist() == hf["input_ids"]
    assert ids["attention_mask"].tolist() == hf["attention_mask"]
    expected = ckpt.probabilities(TEXTS)
    assert np.abs(exported.text_probabilities(TEXTS) - expected).max() < 1e-5
    assert load_export(folder, "int8").text_probabilities(TEXTS).shape == (3, 2)


def test_prompt_runs_are_refused_with_the_reason(tiny_bert, reviews_csv, tmp_path) -> None:
    run_dir = run(tiny_bert, reviews_csv, tmp_path, "prompt")
    with pytest.raises(HeadstartError, match="virtual tokens"):
        export_run(run_dir, ExportOptions())
    assert not (run_dir / "export").exists()


def test_text_cli_export_and_serve_endpoints(tiny_bert, reviews_csv, tmp_path, capsys) -> None:
    run_dir = run(tiny_bert, reviews_csv, tmp_path, "full")
    assert main(["text", "export", str(run_dir), "--out", str(tmp_path / "e")]) == 0
    assert "top-1 agreement 100.00% on 8 texts" in capsys.readouterr().out
    for source in (tmp_path / "e", run_dir):
        c = TestClient(
            create_app(
                load_backend(source, precision="fp32"), Limits(max_texts=3, max_text_chars=500)
            )
        )
        r = c.post("/predict", json={"texts": TEXTS[:2]}, params={"top_k": 1})
        assert r.status_code == 200
        preds = r.json()["predictions"]
        assert [p["input"] for p in preds] == TEXTS[:2] and len(preds[0]["top"]) == 1
        assert c.get("/info").json()["task"] == "text-classification"
        for kwargs, status, words in [
            (dict(json={"texts": ["a"] * 4}), 413, "over the limit of 3"),
            (dict(json={"texts": ["x" * 501]}), 413, "501 characters"),
            (dict(json={"texts": ["ok", " "]}), 400, "text 2 is empty"),
            (dict(json={"text": "a"}), 400, "texts"),
            (dict(content=b"{not json", headers={"content-type": "application/json"}), 400, "JSON"),
            (dict(files=[("file", ("a.png", b"x", "image/png"))]), 415, "application/json"),
        ]:
            r = c.post("/predict", **kwargs)
            assert r.status_code == status and words in r.json()["error"], r.text
