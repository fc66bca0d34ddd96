"""``headstart adapt`` end to end. Plumbing: a tiny randomly initialised model on generated
images, so no accuracy is claimed; what is checked is what the run writes and that the saved
models are the ones that were scored."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file

from headstart.cli.main import main
from tests.conftest import CORE_FILES, TINY, assert_same_run, make_folder

SOURCE = {"blue": (40, 50, 210), "green": (30, 180, 40), "red": (200, 30, 30)}
TARGET = {"blue": (90, 100, 160), "green": (90, 150, 100), "red": (160, 90, 90)}  # faded


def _args(src, tgt, out, *extra):
    return [
        "adapt",
        "--source",
        str(src),
        "--target",
        str(tgt),
        "--backbone",
        TINY,
        "--weights",
        "random",
        "--train-groups",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--bottleneck",
        "8",
        "--disc-hidden",
        "8",
        "--map-method",
        "pca",
        "--precision",
        "fp32",
        "--num-workers",
        "0",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture
def domains(tmp_path):
    src = make_folder(tmp_path / "src", n_train=4, n_val=1, classes=SOURCE)
    tgt = make_folder(tmp_path / "tgt", n_train=4, n_val=1, classes=TARGET)
    return src, tgt


def test_adapt_writes_results_report_and_loadable_checkpoints(domains, tmp_path, capsys):
    from headstart.classify.checkpoint import Checkpoint

    src, tgt = domains
    assert main(_args(src, tgt, tmp_path / "runs", "--name", "t")) == 0
    out = capsys.readouterr().out
    assert "source-only" in out and "dann" in out and "proxy A-distance" in out
    run = tmp_path / "runs" / "adapt" / "t"
    results = json.loads((run / "results.json").read_text())
    assert [(r["method"], r["seed"]) for r in results["runs"]] == [("source-only", 0), ("dann", 0)]
    for r in results["runs"]:
        assert 0 <= r["target_acc"] <= 1 and -2 <= r["pad"] <= 2 and -2 <= r["pad_2d"] <= 2
    assert results["runs"][1]["domain_acc"] is not None
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "<img" in html
    assert "| seed | method |" in (run / "report.md").read_text()
    for method in ("source-only", "dann"):  # each model is a run of its own, with every file
        for name in CORE_FILES:
            assert (run / "runs" / f"{method}-seed0" / name).is_file(), name
    metrics = (run / "metrics.csv").read_text().splitlines()
    assert {"class_loss", "domain_loss", "domain_acc", "target_acc"} <= set(metrics[0].split(","))
    assert len(metrics) == 1 + 2  # one epoch per method
    # The checkpoint, run on images through the whole backbone, scores what the run reported
    # from cached activations of the frozen prefix.
    for r in results["runs"]:
        ckpt = Checkpoint.load(r["checkpoint"], precision="fp32")
        assert ckpt.evaluate(tgt / "val").accuracy == pytest.approx(r["target_acc"])


def test_target_labels_do_not_change_training(domains, tmp_path):
    src, tgt = domains
    # Same images in the same order, class folders renamed so they name no source class:
    # the target is then unlabelled; scoring uses the same held-out images in both runs.
    unlabelled = tmp_path / "unlabelled"
    for i, name in enumerate(sorted(TARGET)):
        shutil.copytree(tgt / "train" / name, unlabelled / "train" / f"x{i}")
    assert main(_args(src, tgt, tmp_path / "runs", "--name", "labelled")) == 0
    assert (
        main(
            _args(
                src,
                unlabelled,
                tmp_path / "runs",
                "--name",
                "unlabelled",
                "--target-val",
                str(tgt / "val"),
            )
        )
        == 0
    )
    for method in ("source-only", "dann"):
        last = f"runs/{method}-seed0/checkpoints/last.safetensors"
        a = load_file(tmp_path / "runs/adapt/labelled" / last)
        b = load_file(tmp_path / "runs/adapt/unlabelled" / last)
        assert a.keys() == b.keys()
        assert all((a[k] == b[k]).all() for k in a), method


def test_user_mistakes_are_one_line_errors(domains, tmp_path, capsys):
    src, _ = domains
    assert main(_args(src, tmp_path / "missing", tmp_path / "runs")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--target folder not found" in err[0]
    assert main(_args(src, src, tmp_path / "runs", "--seeds", "a,b")) == 2
    assert "--seeds" in capsys.readouterr().err


def test_adapt_resume_continues_the_model_that_stopped(domains, tmp_path, monkeypatch):
    """Stopped during DANN's second epoch: the source-only model (finished) is kept, DANN
    continues from its last checkpoint; both end as in an uninterrupted run."""
    src, tgt = domains
    assert main(_args(src, tgt, tmp_path / "runs", "--name", "straight", "--epochs", "2")) == 0
    from headstart.engine.run import Recorder

    original, calls = Recorder.__call__, []

    def interrupting(self, result, loop):
        original(self, result, loop)
        calls.append(result.epoch)
        if len(calls) == 3:  # source-only: epochs 1 and 2; dann: epoch 1
            raise KeyboardInterrupt

    monkeypatch.setattr(Recorder, "__call__", interrupting)
    assert main(_args(src, tgt, tmp_path / "runs", "--name", "cut", "--epochs", "2")) == 130
    monkeypatch.undo()
    assert main(["adapt", "--resume", str(tmp_path / "runs/adapt/cut"), "--no-progress"]) == 0
    for method in ("source-only", "dann"):
        sub = f"runs/{method}-seed0"
        assert_same_run(tmp_path / "runs/adapt/straight" / sub, tmp_path / "runs/adapt/cut" / sub)
    a = json.loads((tmp_path / "runs/adapt/straight/results.json").read_text())["runs"]
    b = json.loads((tmp_path / "runs/adapt/cut/results.json").read_text())["runs"]
    assert [r["target_acc"] for r in a] == [r["target_acc"] for r in b]
