"""``headstart runs show RUN``: one run's plan, metrics per epoch and the paths of its files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from headstart.engine.checkpoint import CheckpointMeta
from headstart.engine.tracking import read_mlflow_link
from headstart.errors import CheckpointError, HeadstartError
from headstart.runs.table import (
    RunRow,
    cell,
    is_composite,
    is_run,
    read_composite,
    read_json,
    read_run,
)
from headstart.strategies import Plan

FILES = (
    "report.html",
    "report.md",
    "MODEL_CARD.md",
    "summary.json",
    "results.json",
    "config.yaml",
    "metrics.csv",
    "checkpoints/best.safetensors",
    "checkpoints/last.safetensors",
    "tensorboard",
    "peft",
    "timm",
    "lr_find.png",
)
METRICS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_f1", "seconds")


def show_run(path: str | Path) -> dict[str, Any]:
    """Everything ``runs show`` prints, as data (``--json``)."""
    folder = Path(path)
    if is_composite(folder):
        kids = [
            read_run(p.parent.parent, folder.parent)
            for p in sorted(folder.glob("runs/*/checkpoints/last.json"))
        ]
        row = read_composite(folder, folder.parent, kids)
        out: dict[str, Any] = {"run": row.to_dict(), "runs": [k.to_dict() for k in kids]}
    elif is_run(folder):
        row = read_run(folder, folder.parent.parent)
        out = {"run": row.to_dict(), "plan": _plan(folder), "metrics": read_metrics(folder)}
    else:
        raise HeadstartError(
            f"{folder} is not a run directory (it has no config.yaml and checkpoints/last.json, "
            "nor results.json); `headstart runs` lists the runs"
        )
    out["files"] = {f: str(folder / f) for f in FILES if (folder / f).exists()}
    link = read_mlflow_link(folder)
    if link:
        out["mlflow"] = link
    return out


def _plan(folder: Path) -> dict[str, Any]:
    try:
        meta = CheckpointMeta.from_dict(read_json(folder / "checkpoints" / "last.json"), folder)
    except CheckpointError:
        return {}
    return meta.plan


def read_metrics(folder: Path) -> list[dict[str, str]]:
    try:
        with open(folder / "metrics.csv", newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []


def format_show(info: dict[str, Any]) -> str:
    """The text ``runs show`` prints."""
    row = RunRow(**info["run"])
    lines = [f"run: {row.path}"]
    for key in (
        "task",
        "data",
        "model",
        "strategy",
        "epochs",
        "best_val_acc",
        "last_val_acc",
        "wall_s",
        "date",
    ):
        lines.append(f"  {key.replace('_', ' ')}: {cell(row, key)}")
    if info.get("plan"):
        lines += ["", Plan.from_dict(info["plan"]).table()]
    if info.get("metrics"):
        lines += ["", "metrics per epoch:"]
        lines.append("  " + "  ".join(f"{k:>10}" for k in METRICS))
        for m in info["metrics"]:
            lines.append("  " + "  ".join(f"{_fmt(m.get(k)):>10}" for k in METRICS))
    if info.get("runs"):
        lines += ["", "its runs:"]
        lines += [
            f"  {r['path']}  {r['strategy']}  best {cell(RunRow(**r), 'best_val_acc')}"
            for r in info["runs"]
        ]
    lines += ["", "files:"] + [f"  {k}: {v}" for k, v in info["files"].items()]
    if info.get("mlflow"):
        link = info["mlflow"]
        lines.append(f"  mlflow: run {link.get('run_id')} in {link.get('tracking_uri')}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value or "-")
    return str(int(x)) if x.is_integer() and abs(x) >= 1 else f"{x:.4f}"
