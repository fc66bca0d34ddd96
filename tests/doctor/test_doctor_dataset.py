"""Data checks: class order against a checkpoint, train/val class mismatch, class sizes."""

from __future__ import annotations

from headstart.doctor import (
    check_class_counts,
    check_class_order,
    check_imbalance,
    check_split_classes,
    run_checks,
)

CLASSES = ["cat", "dog", "fox"]


def test_class_order_differing_from_the_checkpoint_is_named():
    (f,) = check_class_order(["dog", "cat", "fox"], CLASSES)
    assert (f.code, f.level) == ("class-order", "error")
    assert "label 0 is 'dog' here but 'cat' there" in f.message
    assert check_class_order(CLASSES, CLASSES) == []


def test_other_classes_than_the_checkpoint_are_named():
    (f,) = check_class_order(["cat", "dog", "owl"], CLASSES)
    assert (f.code, f.level) == ("checkpoint-classes", "warning")
    assert "'owl'" in f.message and "'fox'" in f.message


def test_val_class_unknown_to_train_is_an_error():
    (f,) = check_split_classes(CLASSES, [*CLASSES, "owl"])
    assert (f.code, f.level) == ("val-unknown-classes", "error") and "'owl'" in f.message


def test_train_class_absent_from_val_is_a_warning():
    (f,) = check_split_classes(CLASSES, ["cat", "dog"])
    assert (f.code, f.level) == ("val-missing-classes", "warning") and "'fox'" in f.message
    assert check_split_classes(CLASSES, reversed(CLASSES)) == []


def test_too_few_images_per_class():
    found = check_class_counts({"cat": 1, "dog": 5, "fox": 20})
    assert [(f.code, f.level) for f in found] == [
        ("few-images", "error"),
        ("few-images", "warning"),
    ]
    assert "'cat' (1)" in found[0].message and "'dog' (5)" in found[1].message
    assert "fox" not in found[0].message + found[1].message
    assert check_class_counts({"cat": 10, "dog": 10}) == []


def test_severe_imbalance():
    (f,) = check_imbalance({"cat": 200, "dog": 10, "fox": 50})
    assert (f.code, f.level) == ("imbalance", "warning") and "20.0:1" in f.message
    assert check_imbalance({"cat": 100, "dog": 10}) == []  # 10:1 is the limit
    assert check_imbalance({"cat": 200, "dog": 10}, addressed=True) == []


def test_run_checks_combines_the_data_checks_errors_first():
    found = run_checks(
        train_counts={"dog": 1, "cat": 30},
        val_counts={"dog": 0, "cat": 5},
        checkpoint_classes=["cat", "dog"],
    )
    assert [f.code for f in found] == [
        "few-images",
        "class-order",
        "imbalance",
        "val-missing-classes",
    ]
    assert [f.level for f in found] == ["error", "error", "warning", "warning"]
