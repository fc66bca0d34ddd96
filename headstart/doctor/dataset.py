"""Checks of the data: class maps against a checkpoint and across splits, class sizes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from headstart.doctor.finding import Finding, error, names, warning

FEW_IMAGES_WARNING = 10
FEW_IMAGES_ERROR = 2
IMBALANCE_WARNING = 10.0


def check_class_order(
    classes: Sequence[str], checkpoint_classes: Sequence[str], checkpoint: str = "the checkpoint"
) -> list[Finding]:
    """Label ``i`` must mean the same class here and in the checkpoint."""
    classes, theirs = list(classes), list(checkpoint_classes)
    if classes == theirs:
        return []
    if sorted(classes) == sorted(theirs):
        i = next(i for i, (a, b) in enumerate(zip(classes, theirs)) if a != b)
        return [
            error(
                "class-order",
                f"the class order differs from {checkpoint}'s: label {i} is '{classes[i]}' here "
                f"but '{theirs[i]}' there, so predictions would be named wrongly; build the "
                "data with the checkpoint's class list (ImageData.from_folder(root, "
                "classes=checkpoint.classes))",
            )
        ]
    extra = sorted(set(classes) - set(theirs))
    missing = sorted(set(theirs) - set(classes))
    parts = [f"new here: {names(extra)}"] if extra else []
    parts += [f"only in {checkpoint}: {names(missing)}"] if missing else []
    return [
        warning(
            "checkpoint-classes",
            f"the classes differ from {checkpoint}'s ({'; '.join(parts)}): "
            "its head cannot be reused as is; train a new head for these classes or use the "
            "checkpoint's class list",
        )
    ]


def check_split_classes(train: Iterable[str], val: Iterable[str]) -> list[Finding]:
    """Every class in val must be in train; every class of train should be in val."""
    train_set, val_set = set(train), set(val)
    out = []
    unknown = sorted(val_set - train_set)
    if unknown:
        out.append(
            error(
                "val-unknown-classes",
                f"val has class(es) that train does not: {names(unknown)}; the model cannot "
                "predict them, so add them to train/ or remove them from val/",
            )
        )
    absent = sorted(train_set - val_set)
    if absent:
        out.append(
            warning(
                "val-missing-classes",
                f"val has no images of class(es) {names(absent)}: their accuracy is never "
                "measured; add validation images for them",
            )
        )
    return out


def check_class_counts(
    counts: Mapping[str, int],
    split: str = "train",
    warn_below: int = FEW_IMAGES_WARNING,
    error_below: int = FEW_IMAGES_ERROR,
) -> list[Finding]:
    """Classes with fewer than ``error_below`` images cannot be learned; fewer than
    ``warn_below`` give a noisy head."""
    out = []
    hopeless = sorted(c for c, n in counts.items() if n < error_below)
    if hopeless:
        out.append(
            error(
                "few-images",
                f"{split} has fewer than {error_below} images for class(es) "
                f"{_with_counts(hopeless, counts)}; add images or drop these classes (--classes)",
            )
        )
    few = sorted(c for c, n in counts.items() if error_below <= n < warn_below)
    if few:
        out.append(
            warning(
                "few-images",
                f"{split} has fewer than {warn_below} images for class(es) "
                f"{_with_counts(few, counts)}: expect noisy results; prefer feature-extraction "
                "(a frozen backbone needs the fewest examples) and add images if you can",
            )
        )
    return out


def check_imbalance(
    counts: Mapping[str, int], threshold: float = IMBALANCE_WARNING, addressed: bool = False
) -> list[Finding]:
    """Largest over smallest class count above ``threshold``, unless ``addressed`` (class
    weights or balanced sampling are on)."""
    present = {c: n for c, n in counts.items() if n > 0}
    if len(present) < 2 or addressed:
        return []
    big = max(present, key=lambda c: present[c])
    small = min(present, key=lambda c: present[c])
    ratio = present[big] / present[small]
    if ratio <= threshold:
        return []
    return [
        warning(
            "imbalance",
            f"train is imbalanced {ratio:.1f}:1 ('{big}' {present[big]} images, '{small}' "
            f"{present[small]}): the model learns to favour large classes; use --class-weights "
            "or --balanced-sampling, and judge by macro-F1 rather than accuracy",
        )
    ]


def _with_counts(classes: Sequence[str], counts: Mapping[str, int]) -> str:
    shown = ", ".join(f"'{c}' ({counts[c]})" for c in classes[:5])
    return shown + (f" and {len(classes) - 5} more" if len(classes) > 5 else "")
