"""``headstart export`` on a tiny trained image run: parity with PyTorch, a self-describing
folder, int8, TorchScript, failures that leave nothing behind (plumbing, random model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from headstart.classify.checkpoint import Checkpoint, collect_images
from headstart.cli.main import main
from headstart.errors import HeadstartError
from headstart.export.check import ExportCheckFailed
from headstart.export.graph import read_metadata
from headstart.export.options import ExportOptions
from headstart.export.run import export_run
from headstart.export.runtime import META_FILE, load_export


def test_export_is_checked_and_describes_itself(image_run: Path, image_export: Path) -> None:
    meta = json.loads((image_export / META_FILE).read_text())
    ckpt = Checkpoint.load(image_run, precision="fp32")
    assert meta["classes"] == list(ckpt.classes)
    assert meta["preprocessing"]["input_size"] == [3, *ckpt.data_config["input_size"][1:]]
    assert meta["preprocessing"]["mean"] == list(ckpt.data_config["mean"])
    assert meta["source"]["run"] == str(image_run.resolve())
    assert meta["models"] == {"fp32": "model.onnx", "int8": "model.int8.onnx"}
    fp32, int8 = meta["check"]["fp32"], meta["check"]["int8"]
    assert fp32["n"] == 12 and fp32["agreement"] == 1.0  # all 3 x 4 val images
    assert fp32["max_abs_diff"] < 1e-4  # measured ~1e-8: same graph, same preprocessing
    assert "accuracy_drop_points" in int8 and int8["n"] == 12
    for name in meta["models"].values():  # the ONNX files carry the same description
        assert read_metadata(image_export / name) == meta


def test_runtime_predicts_what_the_checkpoint_predicts(image_run: Path, image_export: Path) -> None:
    files = collect_images([image_run.parent.parent.parent / "data" / "val"])
    expected = Checkpoint.load(image_run, precision="fp32").predict(files, top_k=3)
    got = load_export(image_export).predict_files(files, top_k=3)
    for e, g in zip(expected, got):
        assert [c for c, _ in e.top] == [c for c, _ in g]
        assert np.allclose([p for _, p in e.top], [p for _, p in g], atol=1e-5)
    int8 = load_export(image_export, "int8").predict_files(files[:2], top_k=3)
    assert [sorted(c for c, _ in p) for p in int8] == [["blue", "green", "red"]] * 2


BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'timm', 'transformers'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import json
from headstart.export.runtime import load_export
preds = load_export(sys.argv[1]).predict_files(sys.argv[2:], top_k=2)
print(json.dumps(preds))
"""


def test_runtime_runs_without_pytorch(image_run: Path, image_export: Path) -> None:
    files = [str(f) for f in collect_images([image_run.parent.parent.parent / "data" / "val"])][:3]
    out = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, str(image_export), *files],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = load_export(image_export).predict_files(files, top_k=2)
    got = json.loads(out.stdout)
    assert [[c for c, _ in p] for p in got] == [[c for c, _ in p] for p in expected]


def test_failed_check_fails_loudly_and_leaves_nothing(
    image_run: Path, tmp_path: Path, monkeypatch
) -> None:
    import headstart.export.common as common

    real = common.export_onnx

    def broken(model, example, path, *args, **kw):  # an exporter that changes the model
        import copy

        import torch

        bad = copy.deepcopy(model)
        with torch.no_grad():
            bad.head.bias += torch.linspace(-3, 3, bad.head.bias.numel())
        return real(bad, example, path, *args, **kw)

    monkeypatch.setattr(common, "export_onnx", broken)
    with pytest.raises(ExportCheckFailed, match="export check failed: .*agreement"):
        export_run(image_run, ExportOptions(out=str(tmp_path / "out")))
    assert list(tmp_path.iterdir()) == []  # no export, no hidden staging folder


def test_existing_folders_are_replaced_only_when_asked(image_run: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(HeadstartError, match="--force"):
        export_run(image_run, ExportOptions(out=str(mine)))
    with pytest.raises(HeadstartError, match="not a headstart export"):
        export_run(image_run, ExportOptions(out=str(mine), force=True))
    assert (mine / "notes.txt").read_text() == "keep me"
    out = tmp_path / "export"
    export_run(image_run, ExportOptions(out=str(out), check_samples=3))
    first = (out / META_FILE).stat().st_mtime_ns
    export_run(image_run, ExportOptions(out=str(out), check_samples=3, force=True))
    assert (out / META_FILE).stat().st_mtime_ns != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "mine"]


def test_torchscript_export_is_checked_too(image_run: Path, tmp_path: Path) -> None:
    result = export_run(image_run, ExportOptions(format="torchscript", out=str(tmp_path / "ts")))
    assert (result.folder / "model.pt").is_file()
    assert result.meta["check"]["fp32"]["agreement"] == 1.0
    with pytest.raises(HeadstartError, match="needs --format onnx"):
        export_run(image_run, ExportOptions(format="torchscript", quantize="int8"))


def test_cli_prints_the_check_and_refuses_bad_runs(image_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["export", str(image_run), "--out", str(out), "--check-samples", "6"]) == 0
    printed = capsys.readouterr().out
    assert "model.onnx (fp32): top-1 agreement 100.00% on 6 images" in printed
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    moved = tmp_path / "elsewhere"
    data = image_run.parent.parent.parent / "data"
    os.rename(data, moved)
    try:
        assert main(["export", str(image_run), "--out", str(tmp_path / "x")]) == 2
        assert "pass --data FOLDER" in capsys.readouterr().err
        code = main(["export", str(image_run), "--out", str(tmp_path / "x"), "--data", str(moved)])
        assert code == 0
    finally:
        os.rename(moved, data)
