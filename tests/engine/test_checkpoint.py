"""Checkpoints: whole or not at all, never unpickled, refused when they don't fit."""

from __future__ import annotations

import pickle

import pytest
import torch

from headstart.backbones import load_backbone
from headstart.backbones.weights import read_state_dict
from headstart.classify.checkpoint import Checkpoint
from headstart.classify.fit import fit
from headstart.engine import checkpoint as ckpt_mod
from headstart.engine.checkpoint import read_meta, read_tensors
from headstart.errors import BackboneError, CheckpointError, DataError, NonFiniteLossError
from tests.conftest import make_folder, tiny_config


@pytest.fixture
def run(tiny_data, tmp_path):
    return fit(tiny_data, tiny_config(strategy="full", out=str(tmp_path / "runs"))).run_dir


def test_run_directory_has_everything(run):
    for name in (
        "config.yaml",
        "metrics.csv",
        "curves.png",
        "confusion_matrix.png",
        "checkpoints/best.safetensors",
        "checkpoints/best.json",
        "checkpoints/last.safetensors",
        "checkpoints/last.json",
    ):
        assert (run / name).is_file(), name
    meta = read_meta(run / "checkpoints" / "best.safetensors")
    assert meta.classes == ["blue", "green", "red"]
    assert meta.backbone is not None and meta.backbone["name"] == "test_efficientnet"
    assert meta.backbone["data_config"]["mean"]
    assert meta.plan["strategy"] == "full" and meta.precision == "fp32"
    assert {"torch", "timm", "headstart"} <= set(meta.versions)
    assert "val_acc" in meta.metrics


def test_interrupted_write_leaves_previous_checkpoint_intact(run, monkeypatch):
    path = run / "checkpoints" / "last.safetensors"
    before = path.read_bytes()

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod, "save_file", broken_save)
    with pytest.raises(OSError):
        ckpt_mod.save_checkpoint(path, {"w": torch.zeros(2)}, ckpt_mod.CheckpointMeta("x"))
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    Checkpoint.load(run)  # still loads


def test_loading_never_unpickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path('pwned').write_text('x')",))

    bad = tmp_path / "evil.pth"
    bad.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(BackboneError, match="holds pickled objects; headstart loads only tensors"):
        read_state_dict(bad)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(CheckpointError):
        Checkpoint.load(bad)


def test_checkpoint_predicts_with_its_own_class_map(run, tiny_data):
    ckpt = Checkpoint.load(run)
    preds = ckpt.predict([tiny_data / "val" / "red"], top_k=2)
    assert len(preds) == 3 and all(len(p.top) == 2 for p in preds)
    assert all(c in ckpt.classes for p in preds for c, _ in p.top)
    assert all(abs(sum(prob for _, prob in p.top)) <= 1.0 + 1e-6 for p in preds)


def test_evaluate_refuses_other_class_set(run, tmp_path):
    other = make_folder(tmp_path / "other", classes={"cat": (1, 1, 1), "dog": (9, 9, 9)})
    with pytest.raises(DataError, match="differ from the checkpoint's class map"):
        Checkpoint.load(run).evaluate(other)


def test_checkpoint_of_another_architecture_is_refused(run):
    path = run / "checkpoints" / "best.safetensors"
    tensors = read_tensors(path)
    meta = read_meta(path)
    assert meta.backbone is not None
    meta.backbone["name"] = "test_resnet"
    ckpt_mod.save_checkpoint(path, tensors, meta)
    with pytest.raises(CheckpointError, match="does not match its declared architecture"):
        Checkpoint.load(path)


def test_local_weights_of_another_architecture_are_refused(tmp_path):
    from safetensors.torch import save_file

    other = load_backbone("test_resnet", "random").body.state_dict()
    save_file({k: v.contiguous() for k, v in other.items()}, str(tmp_path / "w.safetensors"))
    with pytest.raises(BackboneError, match="do not fit this architecture"):
        load_backbone("test_efficientnet", tmp_path / "w.safetensors")


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tiny_data, tmp_path, monkeypatch):
    from headstart.engine.run import Recorder

    original = Recorder.__call__

    def poison_after_first(self, result, loop):
        original(self, result, loop)
        if result.epoch == 1:
            with torch.no_grad():
                for p in self.job.model.head.parameters():
                    p.fill_(float("nan"))

    monkeypatch.setattr(Recorder, "__call__", poison_after_first)
    cfg = tiny_config(strategy="full", epochs=3, out=str(tmp_path / "runs"), name="nan")
    with pytest.raises(NonFiniteLossError, match="epoch 2"):
        fit(tiny_data, cfg)
    last = tmp_path / "runs" / "train" / "nan" / "checkpoints" / "last.safetensors"
    assert read_meta(last).epoch == 1
    assert all(
        torch.isfinite(t).all() for t in read_tensors(last).values() if t.is_floating_point()
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: "{not json", "is not valid JSON"),
        (lambda h: h.replace('"backbone"', '"backbone_"'), "no 'backbone.name'"),
        (lambda h: h.replace('"task"', '"task_"'), "no 'task'"),
        (lambda h: h.replace('"classes": [', '"classes": [1, '), "not all names"),
        (lambda h: h.replace('"epoch": ', '"epoch": "x", "old_epoch": '), "'epoch' is a str"),
    ],
)
def test_damaged_metadata_is_one_line_naming_the_file(run, tmp_path, edit, message):
    """A header broken or edited by hand: a CheckpointError naming the file and what is
    wrong, never a JSONDecodeError or KeyError."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    src = run / "checkpoints" / "best.safetensors"
    with safe_open(str(src), framework="pt") as fh:
        header = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata={"headstart": edit(header["headstart"])})
    with pytest.raises(CheckpointError, match=message) as err:
        Checkpoint.load(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_evaluate_uses_the_precision_the_run_trained_with(run, tiny_data):
    """An fp32 run evaluates in fp32 by default (whatever this CPU's autocast would be), so it
    reproduces the run's own validation accuracy; --precision overrides it."""
    from headstart.engine.rundir import read_csv

    ckpt = Checkpoint.load(run, "last")
    assert ckpt.dtype is None  # fp32
    last = read_csv(run / "metrics.csv")[-1]
    assert ckpt.evaluate(tiny_data, "val").accuracy == pytest.approx(
        float(last["val_acc"]), abs=1e-6
    )
    assert Checkpoint.load(run, "last", precision="bf16").dtype == torch.bfloat16


def test_evaluate_command_reproduces_the_runs_val_accuracy(run, tiny_data, capsys):
    """``headstart evaluate`` defaults to the run's precision; --precision/--device exist."""
    import json

    from headstart.cli.main import main
    from headstart.engine.rundir import read_csv

    best = max(float(r["val_acc"]) for r in read_csv(run / "metrics.csv"))
    assert main(["evaluate", str(run), str(tiny_data), "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(best, abs=1e-6)
    args = [
        "evaluate",
        str(run),
        str(tiny_data),
        "--json",
        "--precision",
        "fp32",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
