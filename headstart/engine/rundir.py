"""Run directories: ``runs/<task>/<name>[N]/``, never overwriting an earlier run."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headstart.io import write_text_atomic


def new_run_dir(out: str | Path, task: str, name: str) -> Path:
    """Create and return ``out/task/name``, or ``name2``, ``name3``... if it exists."""
    base = Path(out) / task
    base.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    n = 1
    while True:
        candidate = base / (stem if n == 1 else f"{stem}{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1


def remove_stale_temp_files(run_dir: str | Path) -> list[Path]:
    """Remove the temporary files an interrupted atomic write left in a run directory.

    Only headstart's own (``.NAME.XXXX.tmp``, see ``headstart.io.atomic_path``) are touched.
    """
    removed = []
    for folder in (Path(run_dir), Path(run_dir) / "checkpoints"):
        if folder.is_dir():
            for f in folder.glob(".*.tmp"):
                if f.is_file():
                    f.unlink(missing_ok=True)
                    removed.append(f)
    return removed


def write_csv_atomic(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return write_text_atomic(path, buf.getvalue())


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))
