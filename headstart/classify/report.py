"""The report of an image-classification run: plan, data profile, curves, confusion matrix,
per-class table, the most confident mistakes and the environment."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from headstart.data.profile import profile
from headstart.engine.precision import precision_name
from headstart.engine.run import Outcome
from headstart.report.train_report import write_train_report
from headstart.versions import versions


def write_image_report(job: Any, outcome: Outcome) -> None:
    """``report.html`` and ``report.md`` of a prepared ``ImageJob`` in ``outcome.run_dir``."""
    best, res = outcome.best, outcome.best_result
    lead = (
        f"{job.plan.strategy} on {job.data.root or 'the data'} with {job.backbone.name} "
        f"({job.backbone.weights_source}). Best epoch {best.get('epoch', '-')}: val accuracy "
        f"{best.get('val_acc', float('nan')):.4f}, macro-F1 {best.get('val_f1', float('nan')):.4f}."
    )
    env = {
        **versions("timm"),
        "device": str(job.device),
        "precision": precision_name(job.dtype),
        "threads": torch.get_num_threads(),
    }
    cm = outcome.summary.get("confusion_matrix")
    write_train_report(
        outcome.run_dir,
        title=f"headstart run {outcome.run_dir.name}",
        lead=lead,
        plan_table=job.plan.table(),
        data_profile=profile(job.data),
        rows=[r.row() for r in outcome.history],
        per_class=outcome.summary.get("per_class", []),
        cm=None if cm is None else np.asarray(cm),
        classes=job.data.classes,
        val_paths=[str(s.path) for s in job.data.val],
        val_true=res.val_true if res is not None else None,
        val_prob=res.val_prob if res is not None else None,
        environment=env,
    )
