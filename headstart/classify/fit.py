"""``fit``: train an image classifier with a strategy, writing a complete run directory.

The task's side of a run (``engine/run.py``): ``ImageJob`` builds the backbone with a new head,
the plan and the inputs (cached features for head-only epochs), and says what its checkpoints
hold; the engine does the rest, the same way for every task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headstart.classify.job import (
    STRATEGIES,
    TASK,
    FitResult,
    ImageJob,
    build_model,
    load_image_data,
)
from headstart.classify.lr_find import LRFind, find_lr
from headstart.classify.lr_find import describe as describe_found
from headstart.config import TrainConfig
from headstart.data.imagedata import ImageData
from headstart.engine import distributed
from headstart.engine import run as engine
from headstart.engine.loop import Callback
from headstart.errors import HeadstartError
from headstart.recommend import recommend
from headstart.strategies import Plan

__all__ = ["STRATEGIES", "TASK", "FitResult", "ImageJob", "build_model", "fit"]


def fit(
    data: ImageData | str | Path | None = None,
    config: TrainConfig | None = None,
    resume: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    **overrides: Any,
) -> FitResult:
    """Train an image classifier and write a run directory.

    >>> result = fit("data/fmnist", strategy="feature-extraction", epochs=5)
    >>> result.best["val_acc"], result.run_dir

    ``resume=RUN_DIR`` continues an interrupted run exactly (``epochs=N`` extends a finished
    one); a finished run is left as it is.
    """
    if resume is not None:
        return _resume(Path(resume), callbacks, **overrides)
    cfg = dataclasses.replace(config or TrainConfig(), **overrides)
    if isinstance(data, str | Path):
        cfg.data = str(data)
    if data is None or isinstance(data, str | Path):
        if not cfg.data:
            raise HeadstartError("no data given: pass a data folder")
        data = load_image_data(cfg)
    elif not cfg.data and data.root:
        cfg.data = str(data.root)  # config.yaml names the folder: --resume and --config need it
    name = cfg.name or f"{Path(cfg.data or 'data').name}-{cfg.strategy.replace(':', '')}"
    if cfg.strategy == "auto":
        cfg = _resolve_auto(cfg, data)
    found = None
    if cfg.lr == "find":
        cfg, found = _find_lr(cfg, data)
    job = ImageJob(cfg, data, found)
    outcome = engine.fit(job, cfg.out, name, callbacks, strict=cfg.strict)
    return job.result(outcome)


def _find_lr(cfg: TrainConfig, data: ImageData) -> tuple[TrainConfig, LRFind]:
    """``--lr find``: the range test's suggestion for the top group, every LR of the plan
    scaled alike; config.yaml records the LRs found (so --resume and --config repeat them)."""
    found = find_lr(data, cfg, cfg.lr_rule)
    if distributed.is_main():
        print(describe_found(found))
    extra = {**cfg.extra, "lr_find": found.to_dict()}
    return dataclasses.replace(cfg, lr=found.lr, head_lr=found.head_lr, extra=extra), found


def _resolve_auto(cfg: TrainConfig, data: ImageData) -> TrainConfig:
    """``--strategy auto``: the recommended strategy and settings (the given epochs are kept)."""
    rec = recommend(data, backbone=cfg.backbone, weights=cfg.weights, epochs=cfg.epochs, config=cfg)
    if distributed.is_main():
        print(f"auto: {rec.strategy}. " + " ".join(rec.reasons))
    return dataclasses.replace(cfg, strategy=rec.strategy, **rec.overrides)


def _resume(run_dir: Path, callbacks: Sequence[Callback], **overrides: Any) -> FitResult:
    def build(config: dict[str, Any], progress: bool) -> ImageJob:
        cfg = dataclasses.replace(TrainConfig(**config), progress=progress)
        return ImageJob(cfg, load_image_data(cfg))

    outcome, job = engine.resume_job(run_dir, build, overrides, callbacks)
    if isinstance(job, ImageJob):
        return job.result(outcome)
    meta = engine.Stored.open(run_dir).meta  # finished: the stored record
    plan = Plan.from_dict(meta.plan)
    return FitResult(
        run_dir,
        plan,
        outcome.history,
        outcome.best,
        tuple(meta.classes),
        trainable_params=plan.n_trainable(max(0, len(outcome.history) - 1)),
        total_params=sum(g.n_params for g in plan.groups),
    )
