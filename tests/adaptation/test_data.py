"""Target folders: unlabelled (flat or nested) or labelled; labels only ever for scoring."""

from __future__ import annotations

import pytest

from headstart.adaptation.data import find_target
from headstart.data.classmap import ClassMap
from headstart.data.imagedata import ImageFiles
from headstart.errors import DataError
from tests.conftest import make_folder, make_image

CLASSES = ClassMap(("blue", "green", "red"))


def test_flat_folder_is_an_unlabelled_pool(tmp_path):
    for i in range(3):
        make_image(tmp_path / "t" / f"{i}.png", (10, 10, 10), i)
    t = find_target(tmp_path / "t", CLASSES)
    assert len(t.pool) == 3 and not t.labelled


def test_nested_folders_not_named_like_classes_are_unlabelled(tmp_path):
    make_image(tmp_path / "t" / "2024-01" / "a.png", (10, 10, 10), 0)
    make_image(tmp_path / "t" / "2024-02" / "deep" / "b.png", (10, 10, 10), 1)
    make_image(tmp_path / "t" / ".hidden" / "c.png", (10, 10, 10), 2)
    t = find_target(tmp_path / "t", CLASSES)
    assert [p.name for p in t.pool] == ["a.png", "b.png"] and not t.labelled


def test_train_val_target_adapts_on_train_and_scores_on_val(tmp_path):
    root = make_folder(tmp_path / "t", n_train=4, n_val=2)
    t = find_target(root, CLASSES)
    assert len(t.pool) == 12 and all("train" in p.parts for p in t.pool)
    assert len(t.evaluation) == 6 and all("val" in s.path.parts for s in t.evaluation)


def test_class_folders_without_splits_are_scored_transductively(tmp_path):
    root = make_folder(tmp_path / "t", n_train=3, n_val=1) / "train"
    t = find_target(root, CLASSES)
    assert len(t.pool) == len(t.evaluation) == 9 and "transductive" in t.note


def test_target_val_must_use_source_classes(tmp_path):
    root = make_folder(tmp_path / "t", n_train=2, n_val=1)
    other = make_folder(tmp_path / "o", n_train=1, n_val=1, classes={"cat": (1, 2, 3)})
    with pytest.raises(DataError, match="--target-val"):
        find_target(root, CLASSES, other / "train")
    assert len(find_target(root, CLASSES, root / "val").evaluation) == 3


def test_missing_or_empty_target_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="--target folder not found"):
        find_target(tmp_path / "nope", CLASSES)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        find_target(tmp_path / "empty", CLASSES)


def test_unlabelled_images_yield_no_label(tmp_path):
    root = make_folder(tmp_path / "t", n_train=1, n_val=1)
    t = find_target(root, CLASSES)
    ds = ImageFiles(t.pool, lambda im: im.size)
    assert {ds[i][1] for i in range(len(ds))} == {0}  # a constant placeholder, not the class
