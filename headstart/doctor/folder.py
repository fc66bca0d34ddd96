"""``diagnose``: what ``headstart doctor`` checks for a data folder, backbone and strategy."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from headstart.classify.fit import ImageJob
from headstart.config import TrainConfig
from headstart.data.imagedata import ImageData
from headstart.data.sources import Sample, read_folder_splits
from headstart.doctor.dataset import check_class_order, check_split_classes
from headstart.doctor.finding import Finding, error, names, unique, warning
from headstart.doctor.preflight import check_training_setup
from headstart.engine.checkpoint import CheckpointMeta, read_meta, resolve_checkpoint
from headstart.errors import CheckpointError


def diagnose(
    data: str | Path,
    config: TrainConfig | None = None,
    checkpoint: str | Path | None = None,
    **overrides: Any,
) -> list[Finding]:
    """Check ``data`` with the backbone, weights and strategy of ``config`` before training:
    the splits' classes, unreadable images, and the full set-up ``train`` would build
    (``preflight``); with ``checkpoint``, its class order and backbone too. Errors first.

    >>> for f in diagnose("data/fmnist", strategy="full", lr=1e-2, head_lr=1e-3):
    ...     print(f.line())
    """
    cfg = dataclasses.replace(config or TrainConfig(), **overrides)
    cfg = dataclasses.replace(cfg, data=str(data), skip_bad=True, progress=False)
    train, val, test = read_folder_splits(Path(data), cfg.val_fraction, cfg.seed)
    if cfg.classes:
        train, val, test = (_only(s, cfg.classes) for s in (train, val, test))
    out = check_split_classes([s.label for s in train], [s.label for s in val])
    classes = cfg.classes or sorted({s.label for s in train})
    with warnings.catch_warnings():  # missing classes are reported as findings
        warnings.simplefilter("ignore")
        image_data = ImageData.build(train, val, test, classes=classes, root=str(data))
    trainer = prepared_trainer(cfg, image_data)
    if image_data.skipped:
        bad = [f"{p} ({why})" for p, why in image_data.skipped]
        out.append(
            error(
                "bad-images",
                f"{len(bad)} image(s) cannot be decoded: {names(bad, 3)}; fix or remove them, "
                "or train with --skip-bad",
            )
        )
    out += check_training_setup(trainer)
    if checkpoint is not None:
        out += _checkpoint_checks(checkpoint, image_data.classes, trainer.backbone.name)
    return unique(out)


def prepared_trainer(cfg: TrainConfig, data: ImageData) -> ImageJob:
    """The job ``train`` builds for ``cfg`` and ``data``, prepared (images decoded, bad ones
    skipped with ``skip_bad``; model and plan built); its checks are the caller's to run."""
    job = ImageJob(cfg, data)
    job.prepare()
    return job


def checkpoint_backbone(checkpoint: str | Path) -> str:
    """The backbone name a checkpoint (run directory or file) was trained with."""
    file, meta = _meta(checkpoint)
    return str(meta.need("backbone", file, "name"))


def _checkpoint_checks(
    checkpoint: str | Path, classes: tuple[str, ...], backbone: str
) -> list[Finding]:
    file, meta = _meta(checkpoint)
    out = check_class_order(classes, meta.classes, f"checkpoint {file}")
    theirs = meta.need("backbone", file, "name")
    if theirs != backbone:
        out.append(
            warning(
                "checkpoint-backbone",
                f"checkpoint {file} was trained with backbone '{theirs}', not '{backbone}'; "
                f"pass --backbone {theirs}",
            )
        )
    return out


def _meta(checkpoint: str | Path) -> tuple[Path, CheckpointMeta]:
    file = resolve_checkpoint(checkpoint)
    meta = read_meta(file)
    if not meta.classes or meta.backbone is None:
        raise CheckpointError(f"{file} is not an image classifier checkpoint (no class list)")
    return file, meta


def _only(samples: list[Sample], classes: list[str]) -> list[Sample]:
    keep = set(classes)
    return [s for s in samples if s.label in keep]
