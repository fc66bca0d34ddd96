"""--resume continues exactly: same weights and metrics as an uninterrupted run (CPU, fp32).

Plumbing with a tiny randomly initialised model: no accuracy is claimed.
"""

from __future__ import annotations

import pytest
import torch

from headstart.classify.fit import fit
from headstart.engine.checkpoint import read_meta, read_tensors
from headstart.engine.rundir import read_csv
from tests.conftest import tiny_config


def _interrupt_after(epoch: int):
    def callback(result, loop):
        if result.epoch == epoch:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("strategy", ["progressive", "full"])
def test_resume_matches_an_uninterrupted_run(tiny_data, tmp_path, monkeypatch, strategy):
    cfg = tiny_config(strategy=strategy, epochs=3, out=str(tmp_path / "runs"), head_epochs=1)
    full = fit(tiny_data, cfg, name="straight")

    import headstart.classify.outputs as outputs

    original = outputs.RunWriter.__call__

    def interrupting(self, result, loop):
        original(self, result, loop)
        _interrupt_after(2)(result, loop)

    monkeypatch.setattr(outputs.RunWriter, "__call__", interrupting)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_data, cfg, name="cut")
    run = tmp_path / "runs" / "train" / "cut"
    assert read_meta(run / "checkpoints" / "last.safetensors")["epoch"] == 2
    monkeypatch.setattr(outputs.RunWriter, "__call__", original)
    resumed = fit(resume=run, progress=False)

    a = read_tensors(full.run_dir / "checkpoints" / "last.safetensors")
    b = read_tensors(resumed.run_dir / "checkpoints" / "last.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows_a = read_csv(full.run_dir / "metrics.csv")
    rows_b = read_csv(run / "metrics.csv")
    assert [r["val_acc"] for r in rows_a] == [r["val_acc"] for r in rows_b]
    assert [r["train_loss"] for r in rows_a] == [r["train_loss"] for r in rows_b]
