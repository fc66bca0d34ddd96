"""Files of a run besides its checkpoints: the best epoch's validation outputs (so a resumed
run still reports them), the config as YAML, and the files a tracker keeps."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from headstart.engine.loop import EpochResult
from headstart.io import atomic_path

# What a tracker keeps of a run (MLflow's artifacts), when present.
RUN_FILES = (
    "report.html",
    "report.md",
    "MODEL_CARD.md",
    "summary.json",
    "config.yaml",
    "metrics.csv",
    "checkpoints/best.safetensors",
    "checkpoints/best.json",
)


def run_files(run_dir: Path) -> list[Path]:
    return [run_dir / f for f in RUN_FILES if (run_dir / f).is_file()]


def save_outputs(path: Path, result: EpochResult) -> None:
    """The best epoch's validation outputs, so a resumed run still reports them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh, epoch=result.epoch, pred=result.val_pred, true=result.val_true, prob=result.val_prob
        )


def load_outputs(path: Path, best: dict[str, Any]) -> EpochResult | None:
    """The best epoch's record with its validation outputs, if they were saved for it."""
    if not best or not path.is_file():
        return None
    with np.load(path) as z:
        if int(z["epoch"]) != int(best["epoch"]):
            return None
        res = EpochResult(
            best["epoch"], np.nan, np.nan, best["val_loss"], best["val_acc"], best["val_f1"],
            np.nan, np.nan, {},
        )  # fmt: skip
        res.val_pred, res.val_true, res.val_prob = z["pred"], z["true"], z["prob"]
    return res


def dump_config(cfg: Any) -> str:
    """A config dataclass as YAML (``config.yaml``)."""
    return yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False)
