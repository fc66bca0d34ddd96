"""Target-domain data: an unlabelled pool of images to adapt to, and labelled images to score.

The target folder is a folder of images (flat or nested in any way), or an ImageFolder. Its
``train/`` split, when present, is the pool; otherwise every image under it. Class folders
named like the source classes make the target *labelled*, but those labels only ever serve
evaluation: the pool is handed to training as images alone (``data.imagedata.ImageFiles``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from headstart.data.classmap import ClassMap
from headstart.data.images import check_image, is_image_file
from headstart.data.sources import Sample, find_splits, scan_class_folders
from headstart.errors import DataError


@dataclass
class TargetData:
    pool: list[Path]  # unlabelled images the model adapts to
    evaluation: list[Sample] = field(default_factory=list)  # labelled, for scoring only
    pool_root: str = ""
    eval_root: str = ""
    note: str = ""

    @property
    def labelled(self) -> bool:
        return bool(self.evaluation)


def find_target(
    root: str | Path, classes: ClassMap, target_val: str | Path | None = None
) -> TargetData:
    """The pool and the evaluation images of a target folder (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--target folder not found: {root}")
    splits = find_splits(root)
    pool_dir = splits.get("train", root)
    pool = image_files(pool_dir)
    if not pool:
        raise DataError(f"--target {pool_dir} holds no images; give a folder of target images")
    if target_val is not None:
        folder = Path(target_val)
        if not folder.is_dir():
            raise DataError(f"--target-val folder not found: {folder}")
        samples = labelled_samples(folder, classes)
        if samples is None:
            raise DataError(
                f"--target-val {folder} needs class folders named like the source "
                f"classes ({', '.join(classes.classes[:5])}...)"
            )
        return TargetData(pool, samples, str(pool_dir), str(folder), "held-out --target-val")
    val_dir = splits.get("val")
    samples = labelled_samples(val_dir, classes) if val_dir is not None else None
    if samples and val_dir is not None:
        return TargetData(pool, samples, str(pool_dir), str(val_dir), f"held-out {val_dir.name}/")
    samples = labelled_samples(pool_dir, classes)
    if samples:
        return TargetData(
            pool,
            samples,
            str(pool_dir),
            str(pool_dir),
            "the pool itself (transductive: labels only score)",
        )
    return TargetData(pool, [], str(pool_dir), "", "unlabelled: no target accuracy")


def image_files(root: Path) -> list[Path]:
    """Every image under ``root``, hidden files and folders ignored, in a stable order."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and is_image_file(p)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def labelled_samples(folder: Path, classes: ClassMap) -> list[Sample] | None:
    """Samples of ``folder/<class>/...`` when every sub-folder is a source class, else None."""
    subdirs = [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    loose = [p for p in folder.iterdir() if p.is_file() and is_image_file(p)]
    if not subdirs or loose or not set(subdirs) <= set(classes.classes):
        return None
    return scan_class_folders(folder)


def check_images(paths: Sequence[Path], what: str) -> None:
    bad = [(str(p), why) for p in paths if (why := check_image(p))]
    if bad:
        listing = "; ".join(f"{p} ({why})" for p, why in bad[:5])
        raise DataError(
            f"{len(bad)} {what} image(s) cannot be decoded: {listing}. Fix or remove them"
        )
