"""Experiment tracking: every run logs to TensorBoard, and to MLflow on request.

The run (``engine/run.py``) calls its trackers at three moments: ``start`` (the config and the
plan, once the run directory exists), ``epoch`` (each epoch's ``EpochResult``: losses,
accuracy, macro-F1, throughput, the LR of every parameter group and the task's own logs) and
``finish`` (the summary and the run's files). TensorBoard is on by default (``--no-tensorboard``
turns it off); its events go to ``RUN/tensorboard/``. ``--track mlflow`` adds MLflow: a local
store (MLflow's default) unless ``MLFLOW_TRACKING_URI`` says otherwise; the MLflow run id is kept in
``RUN/mlflow.json`` so a resumed run logs to the same MLflow run.

Both libraries are imported only when a run uses them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from headstart.engine.loop import EpochResult
from headstart.io import write_json_atomic

TRACKERS = ("mlflow",)  # what --track adds to TensorBoard
TENSORBOARD_DIR = "tensorboard"
MLFLOW_FILE = "mlflow.json"


@dataclass
class RunInfo:
    """What a tracker is told when a run starts."""

    run_dir: Path
    kind: str  # train | text | fewshot | adapt
    config: dict[str, Any]
    plan: dict[str, Any]
    classes: Sequence[str]
    unit: str = "img"
    tags: dict[str, str] = field(default_factory=dict)


class Tracker(Protocol):
    def start(self, run: RunInfo) -> None: ...

    def epoch(self, result: EpochResult) -> None: ...

    def finish(self, summary: Mapping[str, Any], files: Sequence[Path]) -> None: ...

    def close(self, failed: bool = False) -> None: ...


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config as flat ``name: scalar`` pairs (nested mappings joined with ``.``; lists and
    other values as text), the form TensorBoard's hparams and MLflow's params take."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_params(value, name + "."))
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = "" if value is None else value
        else:
            out[name] = json.dumps(value, default=str)
    return out


def epoch_scalars(result: EpochResult, unit: str = "img") -> dict[str, float]:
    """The numbers of one epoch under the names both trackers log them as."""
    scalars = {
        "loss/train": result.train_loss,
        "loss/val": result.val_loss,
        "accuracy/train": result.train_acc,
        "accuracy/val": result.val_acc,
        "macro_f1/val": result.val_f1,
        f"throughput/train_{unit}_per_s": result.train_images_per_s,
        "time/epoch_s": result.seconds,
    }
    scalars.update({f"lr/{name}": lr for name, lr in result.lrs.items()})
    scalars.update({f"logs/{name}": v for name, v in result.logs.items()})
    return {k: float(v) for k, v in scalars.items() if np.isfinite(v)}


def final_metrics(summary: Mapping[str, Any], last: Mapping[str, Any] | None) -> dict[str, float]:
    """The metrics a run ends with: its best epoch's and its last epoch's validation scores."""
    best = summary.get("best") or {}
    out = {
        "best_val_acc": best.get("val_acc"),
        "best_val_f1": best.get("val_f1"),
        "best_epoch": best.get("epoch"),
        "last_val_acc": (last or {}).get("val_acc"),
        "last_val_f1": (last or {}).get("val_f1"),
    }
    return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(float(v))}


def read_mlflow_link(run_dir: Path) -> dict[str, Any]:
    """``RUN/mlflow.json``: where a run's MLflow run is (empty when it has none)."""
    path = run_dir / MLFLOW_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_mlflow_link(run_dir: Path, tracking_uri: str, run_id: str, experiment: str) -> None:
    write_json_atomic(
        run_dir / MLFLOW_FILE,
        {"tracking_uri": tracking_uri, "run_id": run_id, "experiment": experiment},
    )
