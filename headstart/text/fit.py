"""``fit_text``: train a text classifier with a strategy (or ``auto``, the advice of
``recommend_text``), writing the run directory every task writes (``engine/run.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from headstart.engine import run as engine
from headstart.strategies import Plan
from headstart.text.config import TextConfig
from headstart.text.data import TextData
from headstart.text.job import TASK, TextFitResult, TextJob, load_data
from headstart.text.recommend import resolve_auto

__all__ = ["TASK", "TextFitResult", "TextJob", "fit_text", "load_data"]


def fit_text(
    data: TextData | str | Path | None = None,
    config: TextConfig | None = None,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    **overrides: Any,
) -> TextFitResult:
    """Train a text classifier and write a run directory (``runs/text/NAME``).

    >>> r = fit_text("data/rt.csv", text_col="review", strategy="lora", epochs=3)
    >>> r.best["val_acc"], r.run_dir

    ``resume=RUN_DIR`` continues an interrupted run exactly (``epochs=N`` extends a finished
    one); a finished run is left as it is.
    """
    if resume is not None:
        return _resume(Path(resume), **overrides)
    cfg = dataclasses.replace(config or TextConfig(), **overrides)
    if isinstance(data, str | Path):
        cfg.data = str(data)
    text_data = data if isinstance(data, TextData) else load_data(cfg)
    if cfg.strategy == "auto":
        cfg = resolve_auto(cfg, text_data)
    job = TextJob(cfg, text_data)
    name = cfg.name or f"{Path(cfg.data or 'data').stem}-{cfg.strategy.replace(':', '')}"
    outcome = engine.fit(job, cfg.out, name, run_dir=run_dir)
    return job.result(outcome)


def _resume(run_dir: Path, **overrides: Any) -> TextFitResult:
    def build(config: dict[str, Any], progress: bool) -> TextJob:
        cfg = dataclasses.replace(TextConfig(**config), progress=progress)
        return TextJob(cfg, load_data(cfg))

    outcome, job = engine.resume_job(run_dir, build, overrides)
    if isinstance(job, TextJob):
        return job.result(outcome)
    meta = engine.Stored.open(run_dir).meta  # finished: the stored record
    plan = Plan.from_dict(meta.plan)
    last = max(0, len(outcome.history) - 1)
    total = sum(g.n_params for g in plan.groups)
    return TextFitResult(
        run_dir, outcome.history, outcome.best, tuple(meta.classes), plan.n_trainable(last), total,
        0.0, plan=plan,
    )  # fmt: skip
