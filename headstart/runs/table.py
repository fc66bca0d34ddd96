"""``headstart runs``: every run under a folder as one table, read from the files runs write.

A run is a folder with ``config.yaml`` and ``checkpoints/last.json`` (the typed
``CheckpointMeta``); a composite run (``compare``, ``text compare``, ``adapt``) is a folder with
``results.json`` whose own runs sit under its ``runs/``. Nothing is recomputed or written:
a damaged file makes its run show what could be read, never stops the listing.

>>> rows = find_runs("runs")
>>> print(format_table(sort_rows(rows, "best_val_acc")))
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from headstart.engine.checkpoint import CheckpointMeta
from headstart.errors import CheckpointError, HeadstartError

COLUMNS = (
    ("task", "task"),
    ("name", "name"),
    ("data", "data"),
    ("model", "backbone/model"),
    ("strategy", "strategy"),
    ("epochs", "epochs"),
    ("best_val_acc", "best val acc"),
    ("last_val_acc", "last val acc"),
    ("wall_s", "wall s"),
    ("date", "date"),
)
SORT_KEYS = tuple(k for k, _ in COLUMNS) + ("path",)
SKIP = {"checkpoints", "tensorboard", "features", "mlruns"}


@dataclass
class RunRow:
    """One run as the table shows it (``None``: not recorded)."""

    path: str
    task: str
    name: str
    data: str = ""
    model: str = ""
    strategy: str = ""
    epochs: int | None = None
    planned_epochs: int | None = None
    best_val_acc: float | None = None
    last_val_acc: float | None = None
    wall_s: float | None = None
    date: str = ""
    parent: str | None = None  # the composite run this one belongs to
    children: list[str] = field(default_factory=list)  # a composite run's own runs
    problem: str = ""  # what could not be read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _date(path: Path, summary: dict[str, Any]) -> str:
    finished = summary.get("finished")
    if isinstance(finished, str) and finished:
        return finished.replace("+00:00", "Z")
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return ""
    return (
        datetime.fromtimestamp(stamp, timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def is_run(folder: Path) -> bool:
    return (folder / "checkpoints" / "last.json").is_file() and (folder / "config.yaml").is_file()


def is_composite(folder: Path) -> bool:
    return (folder / "results.json").is_file() and (folder / "runs").is_dir()


def read_run(folder: Path, root: Path) -> RunRow:
    """One run's row from its config, ``checkpoints/last.json`` and ``summary.json``."""
    config = _read_yaml(folder / "config.yaml")
    summary = read_json(folder / "summary.json")
    summary = summary if isinstance(summary, dict) else {}
    row = RunRow(str(folder), _kind(folder, root), folder.name, data=str(config.get("data") or ""))
    row.data = row.data or str(config.get("source") or "")
    try:
        meta = CheckpointMeta.from_dict(read_json(folder / "checkpoints" / "last.json"), folder)
    except CheckpointError as err:
        row.problem = str(err)
        return row
    row.model = str((meta.backbone or {}).get("name") or (meta.model or {}).get("name") or "")
    row.strategy = meta.strategy or str(config.get("strategy") or config.get("method") or "")
    row.epochs = meta.epoch
    row.planned_epochs = int(config["epochs"]) if isinstance(config.get("epochs"), int) else None
    row.best_val_acc = _number((summary.get("best") or meta.best or {}).get("val_acc"))
    row.last_val_acc = _number(meta.metrics.get("val_acc"))
    row.wall_s = _number(summary.get("seconds"))
    if row.wall_s is None and meta.history:
        row.wall_s = sum(_number(r.get("seconds")) or 0.0 for r in meta.history)
    row.date = _date(folder / "checkpoints" / "last.json", summary)
    return row


def read_composite(folder: Path, root: Path, children: list[RunRow]) -> RunRow:
    """A compare / text compare / adapt run: its settings, and the best of its own runs."""
    config = _read_yaml(folder / "config.yaml")
    results = read_json(folder / "results.json")
    results = results if isinstance(results, dict) else {}
    settings = results.get("config") or results.get("settings") or config
    settings = settings if isinstance(settings, dict) else {}
    row = RunRow(str(folder), _kind(folder, root), folder.name)
    row.data = str(settings.get("data") or settings.get("source") or "")
    row.model = str(settings.get("backbone") or settings.get("model") or "")
    row.strategy = ",".join(str(s) for s in sorted({c.strategy for c in children if c.strategy}))
    row.children = [c.path for c in children]
    bests = [c.best_val_acc for c in children if c.best_val_acc is not None]
    row.best_val_acc = max(bests) if bests else None
    walls = [c.wall_s for c in children if c.wall_s is not None]
    row.wall_s = _number(results.get("seconds")) or (sum(walls) if walls else None)
    row.date = _date(folder / "results.json", {})
    return row


def _kind(folder: Path, root: Path) -> str:
    """The command that made the run: the folder it sits in under ``root`` (``train``,
    ``text``, ``compare``...), or its parent's kind for the runs of a composite run."""
    try:
        parts = folder.resolve().relative_to(root.resolve()).parts
    except ValueError:
        parts = folder.parts
    return parts[0] if len(parts) > 1 else folder.parent.name or "run"


def find_runs(root: str | Path = "runs") -> list[RunRow]:
    """Every run under ``root`` (composite runs with their own runs after them)."""
    root = Path(root)
    if not root.is_dir():
        raise HeadstartError(f"no runs folder at {root}; give the folder runs were written to")
    if is_run(root) or is_composite(root):
        root = root.parent
    rows: list[RunRow] = []
    for dirpath, dirnames, _ in os.walk(root):
        folder = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP)
        if is_composite(folder):
            kids = [read_run(f, root) for f in runs_below(folder / "runs")]
            for k in kids:
                k.parent, k.task = str(folder), _kind(folder, root)
            rows.append(read_composite(folder, root, kids))
            rows.extend(kids)
            dirnames[:] = []
        elif is_run(folder):
            rows.append(read_run(folder, root))
            dirnames[:] = []
    return rows


def runs_below(folder: Path) -> list[Path]:
    """The runs anywhere under ``folder`` (a composite run's ``runs/``: ``runs/train/NAME``,
    ``runs/METHOD-seedN``...)."""
    found = {p.parent.parent for p in folder.rglob("checkpoints/last.json")}
    return sorted(f for f in found if is_run(f))


def sort_rows(
    rows: list[RunRow], key: str = "date", descending: bool | None = None
) -> list[RunRow]:
    """Rows sorted by ``key`` (numbers and dates newest/highest first); a composite run keeps
    its own runs right after it."""
    if key not in SORT_KEYS:
        raise HeadstartError(f"--sort {key}: choose one of {', '.join(SORT_KEYS)}")
    numeric = key in ("epochs", "best_val_acc", "last_val_acc", "wall_s", "date")
    desc = numeric if descending is None else descending
    tops = [r for r in rows if r.parent is None]
    missing = [r for r in tops if getattr(r, key) in (None, "")]
    present = sorted(
        (r for r in tops if getattr(r, key) not in (None, "")),
        key=lambda r: getattr(r, key),
        reverse=desc,
    )
    out: list[RunRow] = []
    for top in present + missing:
        out.append(top)
        out.extend(r for r in rows if r.parent == top.path)
    return out


def cell(row: RunRow, key: str) -> str:
    value = getattr(row, key)
    if value is None:
        return "-"
    if key in ("best_val_acc", "last_val_acc"):
        return f"{value:.4f}"
    if key == "wall_s":
        return f"{value:.1f}"
    if key == "epochs" and row.planned_epochs and row.planned_epochs != value:
        return f"{value}/{row.planned_epochs}"
    if key == "name" and row.parent:
        return "  " + str(value)  # a composite run's own run, indented under it
    if key == "date":
        return str(value)[:16].replace("T", " ")
    return str(value)


def format_table(rows: list[RunRow]) -> str:
    """The rows as an aligned text table."""
    if not rows:
        return "no runs found"
    cells = [[cell(r, k) for k, _ in COLUMNS] for r in rows]
    heads = [h for _, h in COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    line = "  ".join(h.ljust(w) for h, w in zip(heads, widths))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join([line, "-" * len(line), *body])
