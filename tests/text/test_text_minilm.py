"""End to end with the packaged all-MiniLM-L6-v2 on real Rotten Tomatoes reviews (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from headstart.text.checkpoint import TextCheckpoint
from headstart.text.datasets import export_text_dataset
from headstart.text.fit import fit_text


@pytest.mark.slow
def test_frozen_minilm_learns_fresh_vs_rotten(tmp_path: Path) -> None:
    data = export_text_dataset("rotten-tomatoes", tmp_path / "rt.csv", 400, 200, seed=0)
    result = fit_text(
        data,
        text_col="review",
        model="minilm",
        strategy="frozen",
        epochs=5,
        max_length=64,
        out=str(tmp_path),
        progress=False,
    )
    # always answering "fresh" would score about 0.58 (its share of the reviews)
    assert result.final.val_acc > 0.65
    ckpt = TextCheckpoint.load(result.run_dir)
    pos, neg = ckpt.predict(
        ["A moving, beautifully acted triumph.", "A tedious, clumsy mess that wastes its cast."]
    )
    assert pos.top[0][0] == "fresh" and neg.top[0][0] == "rotten"
