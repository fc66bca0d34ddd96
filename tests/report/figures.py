"""Reports that agree with their data: every figure a report.md states is one of the numbers
its run wrote (summary.json, results.json, metrics.csv, config.yaml, checkpoints' JSON, ...),
at the precision shown (or as points / percent: x100)."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

# a number not glued to a word, path or file name: "0.8340", "3,383,818", "5.00e-04", "-1.2",
# with a unit it may carry: "1.5x", "52s", "0.4%"
NUMBER = re.compile(
    r"(?<![\w.\-/:#])([-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)(?:x|s|ms|%)?(?![\w/-])"
)
SKIP_LINE = re.compile(r"^!\[|^\s*```|(?:^|\s)(?:/|\./)\S+")


def _numbers(value: Any, out: list[float]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            out.append(float(value))
    elif isinstance(value, str):
        try:
            out.append(float(value))
        except ValueError:
            out.extend(float(m.replace(",", "")) for m in NUMBER.findall(value) if m.strip("+-"))
    elif isinstance(value, dict):
        for v in value.values():
            _numbers(v, out)
        out.extend(_plan_totals(value))
    elif isinstance(value, list | tuple):
        for v in value:
            _numbers(v, out)


def _plan_totals(plan: dict[str, Any]) -> list[float]:
    """What a printed plan's header derives from its groups: the parameter count, and at each
    unfreeze epoch the parameters that train and their share."""
    groups = plan.get("groups")
    if not isinstance(groups, list) or not all(
        isinstance(g, dict) and "n_params" in g for g in groups
    ):
        return []
    total = sum(g["n_params"] for g in groups)
    out = [float(total)]
    for epoch in {g.get("unfreeze_epoch") for g in groups if g.get("unfreeze_epoch") is not None}:
        n = sum(
            g["n_params"]
            for g in groups
            if g.get("unfreeze_epoch") is not None and g["unfreeze_epoch"] <= epoch
        )
        out += [float(n), 100 * n / max(1, total)]
    return out


def source_numbers(run_dir: Path) -> list[float]:
    """Every number in the run's data files (JSON, YAML, CSV), its own runs' included."""
    out: list[float] = []
    for path in sorted(run_dir.rglob("*")):
        if path.suffix == ".json":
            _numbers(json.loads(path.read_text(encoding="utf-8")), out)
        elif path.suffix == ".yaml":
            _numbers(yaml.safe_load(path.read_text(encoding="utf-8")), out)
        elif path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    _numbers(list(row.values()), out)
    return out


def _shown(token: str) -> tuple[float, float]:
    """The value of a figure and half the unit of its last digit (what rounding allows)."""
    text = token.replace(",", "")
    value = float(text)
    mantissa = re.split("[eE]", text)[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    scale = 10 ** (int(re.split("[eE]", text)[1]) if "e" in text.lower() else 0)
    return value, 0.5 * 10**-decimals * scale * 1.000001


def unsourced_figures(report: Path, run_dir: Path) -> list[str]:
    """The figures of ``report`` that none of the run's numbers rounds to."""
    numbers = source_numbers(run_dir)
    candidates = numbers + [100 * n for n in numbers]
    missing = []
    for line in report.read_text(encoding="utf-8").splitlines():
        if SKIP_LINE.search(line):
            continue
        for token in NUMBER.findall(line):
            value, tol = _shown(token)
            if not any(abs(c - value) <= tol for c in candidates):
                missing.append(f"{token} in: {line.strip()[:120]}")
    return missing


def assert_figures_have_sources(report: Path, run_dir: Path | None = None) -> None:
    missing = unsourced_figures(report, run_dir or report.parent)
    assert not missing, "figures with no source:\n" + "\n".join(missing)
