"""--resume continues exactly: same weights and metrics as an uninterrupted run (CPU, fp32);
a finished run is left as it is, or extended when asked.

Plumbing with a tiny randomly initialised model: no accuracy is claimed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from headstart.classify.fit import fit
from headstart.engine.checkpoint import read_meta
from headstart.errors import HeadstartError
from tests.conftest import assert_same_run, interrupt_after, tiny_config


@pytest.mark.parametrize("strategy", ["progressive", "full"])
def test_resume_matches_an_uninterrupted_run(tiny_data, tmp_path, monkeypatch, strategy):
    cfg = tiny_config(
        strategy=strategy, epochs=3, out=str(tmp_path / "runs"), head_epochs=1, augment="standard"
    )
    full = fit(tiny_data, cfg, name="straight")
    with interrupt_after(monkeypatch, 2), pytest.raises(KeyboardInterrupt):
        fit(tiny_data, cfg, name="cut")
    run = tmp_path / "runs" / "train" / "cut"
    assert read_meta(run / "checkpoints" / "last.safetensors").epoch == 2
    resumed = fit(resume=run, progress=False)
    assert_same_run(full.run_dir, resumed.run_dir)
    summary = (resumed.run_dir / "summary.json").read_text()
    assert '"per_class"' in summary and '"confusion_matrix"' in summary


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_resuming_a_finished_run_changes_nothing(tiny_data, tmp_path, capsys):
    res = fit(tiny_data, tiny_config(strategy="full", out=str(tmp_path)), name="done")
    before = _digest(res.run_dir)
    again = fit(resume=res.run_dir)
    assert _digest(res.run_dir) == before
    assert "finished all 2 epochs; nothing to do" in capsys.readouterr().out
    assert [r.val_acc for r in again.history] == [r.val_acc for r in res.history]
    assert again.best == res.best


def test_a_finished_run_is_extended_only_when_asked(tiny_data, tmp_path, capsys):
    res = fit(tiny_data, tiny_config(strategy="full", out=str(tmp_path)), name="more")
    more = fit(resume=res.run_dir, epochs=3)
    assert (
        len(more.history) == 3
        and read_meta(more.run_dir / "checkpoints/last.safetensors").epoch == 3
    )
    assert "extending" in capsys.readouterr().out
    assert "epochs: 3" in (res.run_dir / "config.yaml").read_text()
    with pytest.raises(HeadstartError, match="already trained 3 epochs; give more"):
        fit(resume=res.run_dir, epochs=2)
    prog = fit(tiny_data, tiny_config(strategy="progressive", out=str(tmp_path)), name="prog")
    with pytest.raises(HeadstartError, match="cannot be extended"):
        fit(resume=prog.run_dir, epochs=4)


def test_epochs_of_an_unfinished_run_are_refused(tiny_data, tmp_path, monkeypatch):
    cfg = tiny_config(strategy="full", epochs=3, out=str(tmp_path), name="cut")
    with interrupt_after(monkeypatch, 1), pytest.raises(KeyboardInterrupt):
        fit(tiny_data, cfg)
    with pytest.raises(HeadstartError, match="stopped at epoch 1 of 3; resume it without --epochs"):
        fit(resume=tmp_path / "train" / "cut", epochs=5)


def test_stale_temporary_files_are_removed_on_resume(tiny_data, tmp_path, monkeypatch):
    """A write killed before its rename leaves ``.last.safetensors.XXXX.tmp``; the resumed run
    removes it (and only headstart's own temporary files)."""
    cfg = tiny_config(strategy="full", epochs=2, out=str(tmp_path), name="cut")
    with interrupt_after(monkeypatch, 1), pytest.raises(KeyboardInterrupt):
        fit(tiny_data, cfg)
    run = tmp_path / "train" / "cut"
    stale = run / "checkpoints" / ".last.safetensors.k3j9x.tmp"
    stale.write_bytes(b"half a checkpoint")
    mine = run / "notes.tmp"
    mine.write_text("a user's file")
    fit(resume=run, progress=False)
    assert not stale.exists() and mine.read_text() == "a user's file"
    assert not list(run.rglob(".*.tmp"))
