"""Hugging Face ``datasets`` and manifests as input, offline: data sets written to disk here
(``save_to_disk`` and parquet files) train through ``headstart train hf:DIR`` and ``text train
hf:DIR``. Plumbing with tiny randomly initialised models: no accuracy is claimed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from headstart.cli.main import main
from headstart.data.imagedata import ImageData
from headstart.engine.checkpoint import read_meta
from tests.conftest import COLOURS, TINY, tiny_weights_path

# ClassLabel order differs from the alphabetical order of the names on purpose
NAMES = ["red", "green", "blue"]


def _images(n: int, seed: int) -> tuple[list[Image.Image], list[int]]:
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(NAMES):
        for _ in range(n):
            arr = np.clip(np.array(COLOURS[name]) + rng.normal(0, 25, (20, 20, 3)), 0, 255)
            images.append(Image.fromarray(arr.astype(np.uint8)))
            labels.append(label)
    return images, labels


def image_dataset(n: int, seed: int):
    import datasets

    features = datasets.Features(
        {"img": datasets.Image(), "fine_label": datasets.ClassLabel(names=NAMES)}
    )
    images, labels = _images(n, seed)
    return datasets.Dataset.from_dict({"img": images, "fine_label": labels}, features=features)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    import datasets

    folder = tmp_path_factory.mktemp("hf") / "colours"
    splits = {"train": image_dataset(5, 0), "validation": image_dataset(2, 1)}
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return folder


def _train_args(out: Path) -> list[str]:
    return [
        "--backbone", TINY, "--weights", str(tiny_weights_path()), "--epochs", "1",
        "--batch-size", "4", "--precision", "fp32", "--no-progress", "--num-workers", "0",
        "--out", str(out), "--strategy", "full", "--no-tensorboard",
    ]  # fmt: skip


def test_train_reads_a_saved_dataset_dict_with_its_class_labels(saved, tmp_path, capsys):
    spec = f"hf:{saved}"
    assert main(["train", spec, *_train_args(tmp_path), "--name", "hf"]) == 0
    run = tmp_path / "train" / "hf"
    meta = read_meta(run / "checkpoints" / "best.safetensors")
    assert meta.classes == NAMES  # the ClassLabel names, in their order
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"] == spec
    summary = json.loads((run / "summary.json").read_text())
    assert sum(r["support"] for r in summary["per_class"]) == 6  # the validation split
    # --resume reads the data set again from the config
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    assert read_meta(run / "checkpoints" / "last.safetensors").epoch == 2


def test_parquet_files_and_a_train_only_dataset_split_by_fraction(tmp_path):
    import datasets

    folder = tmp_path / "pq"
    folder.mkdir()
    image_dataset(5, 0).to_parquet(str(folder / "train-00000.parquet"))
    data = ImageData.load(f"hf:{folder}", val_fraction=0.4, seed=0, image_col="img",
                          label_col="fine_label")  # fmt: skip
    assert data.classes == tuple(NAMES)
    assert len(data.train) == 9 and len(data.val) == 6  # 40% of each class
    only = tmp_path / "only"
    image_dataset(5, 0).save_to_disk(str(only))
    assert isinstance(datasets.load_from_disk(str(only)), datasets.Dataset)
    again = ImageData.load(f"hf:{only}", val_fraction=0.4, seed=0)
    assert [s.label for s in again.val] == [s.label for s in data.val]


def test_missing_columns_and_unknown_sets_are_one_line_errors(saved, tmp_path, capsys):
    assert main(["train", f"hf:{saved}", "--label-col", "kind", *_train_args(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no label column 'kind'" in err and "img, fine_label" in err
    assert main(["train", f"hf:{tmp_path / 'absent'}", *_train_args(tmp_path)]) == 2
    assert "cannot load the data set" in capsys.readouterr().err
    assert not (tmp_path / "train").exists()


def test_train_reads_a_csv_manifest(tmp_path):
    from tests.conftest import make_folder

    root = make_folder(tmp_path / "imgs", n_train=4, n_val=2)
    manifest = tmp_path / "train.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        for p in sorted(root.rglob("*.png")):
            w.writerow([p.relative_to(tmp_path).as_posix(), p.parent.name])
    args = [*_train_args(tmp_path / "runs"), "--val-fraction", "0.25", "--name", "csv"]
    assert main(["train", str(manifest), *args]) == 0
    meta = read_meta(tmp_path / "runs" / "train" / "csv" / "checkpoints" / "best.safetensors")
    assert meta.classes == ["blue", "green", "red"]


def test_text_train_reads_a_saved_dataset(tiny_bert, tmp_path, capsys):
    import datasets

    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    rows = {
        "sentence": ["great", "superb film", "awful", "dull plot", "moving", "boring"] * 3,
        "label": [1, 1, 0, 0, 1, 0] * 3,
    }
    ds = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict({"train": ds, "validation": ds.select(range(6))}).save_to_disk(
        str(tmp_path / "sst")
    )
    args = ["text", "train", f"hf:{tmp_path / 'sst'}", "--text-col", "sentence",
            "--model", str(tiny_bert), "--strategy", "feature-extraction", "--epochs", "1",
            "--precision", "fp32", "--no-progress", "--device", "cpu",
            "--out", str(tmp_path / "runs"), "--name", "sst"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "text" / "sst"
    assert f"report: {run / 'report.html'}" in out  # text train prints its report's path
    meta = read_meta(run / "checkpoints" / "best.safetensors")
    assert meta.classes == ["neg", "pos"]
