"""A text run continues exactly after an interruption (--resume), and a finished one is left
as it is. Plumbing on the tiny random BERT (see conftest.py): no accuracy is claimed."""

from __future__ import annotations

from pathlib import Path

import pytest
from text_helpers import tiny_text_config

from headstart.engine.checkpoint import read_meta
from headstart.text.fit import fit_text
from tests.conftest import CORE_FILES, assert_same_run, interrupt_after


def test_text_resume_matches_an_uninterrupted_run(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LoRA with dropout on: the resumed epochs draw the same masks and batches."""
    cfg = tiny_text_config(
        tiny_bert, data=str(reviews_csv), strategy="lora", epochs=3, out=str(tmp_path)
    )
    straight = fit_text(config=cfg, name="straight")
    with interrupt_after(monkeypatch, 1), pytest.raises(KeyboardInterrupt):
        fit_text(config=cfg, name="cut")
    cut = tmp_path / "text" / "cut"
    assert read_meta(cut / "checkpoints" / "last.safetensors").epoch == 1
    resumed = fit_text(resume=cut, progress=False)
    assert_same_run(straight.run_dir, resumed.run_dir)
    for name in CORE_FILES:
        assert (cut / name).is_file(), name
    again = fit_text(resume=cut)  # finished: nothing to do
    assert [r.val_acc for r in again.history] == [r.val_acc for r in resumed.history]
