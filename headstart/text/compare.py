"""``compare_text``: every text strategy on the same data with a matched budget.

Each strategy trains with the same data, epochs, batch size, max length, schedule and seed
(its own LR defaults, ``DEFAULT_LRS``), by default in a fresh process of its own so that
its wall time and peak memory are its own. The table has trainable parameters (count and
share of the model), accuracy and macro-F1 of the last epoch on val, wall time and peak
memory; ``results.json``, ``report.md`` and ``report.html`` land in the compare directory.

>>> res = compare_text("data/rt.csv", text_col="review", epochs=3)
>>> print(res.table())
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.engine.precision import resolve_device
from headstart.engine.rundir import new_run_dir, read_csv
from headstart.errors import HeadstartError
from headstart.io import write_json_atomic
from headstart.strategies import parse_strategy
from headstart.text.config import ALLOWED, STRATEGIES, TextConfig
from headstart.text.data import TextData
from headstart.text.fit import fit_text, load_data
from headstart.text.measure import PeakMemory
from headstart.text.recommend import recommend_text
from headstart.text.report import write_compare_report

COLUMNS = (
    "strategy",
    "trainable",
    "% of model",
    "val acc",
    "macro-F1",
    "best acc (ep)",
    "wall s",
    "peak MiB",
)


@dataclass
class StrategyResult:
    strategy: str
    trainable_params: int
    total_params: int
    accuracy: float  # val, last epoch
    macro_f1: float
    best_accuracy: float
    best_epoch: int
    seconds: float
    peak_mib: float
    memory_kind: str
    lr: float
    head_lr: float
    run_dir: str
    resolved: str = ""  # what ``auto`` chose
    advice_s: float = 0.0  # auto: the seconds recommend took (included in ``seconds``)

    @property
    def share(self) -> float:
        return 100.0 * self.trainable_params / max(1, self.total_params)

    def cells(self) -> list[str]:
        return [
            f"{self.strategy} ({self.resolved})" if self.resolved else self.strategy,
            f"{self.trainable_params:,}",
            f"{self.share:.3f}",
            f"{self.accuracy:.4f}",
            f"{self.macro_f1:.4f}",
            f"{self.best_accuracy:.4f} ({self.best_epoch})",
            f"{self.seconds:.1f}",
            f"{self.peak_mib:.0f}",
        ]


@dataclass
class CompareResult:
    run_dir: Path
    rows: list[StrategyResult]
    settings: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> list[str]:
        return list(COLUMNS)

    def cell_rows(self) -> list[dict[str, str]]:
        """One dict per strategy, formatted for a table (column -> text)."""
        return [dict(zip(COLUMNS, r.cells())) for r in self.rows]

    def table(self) -> str:
        """The table as aligned plain text, for the console."""
        cells = [list(COLUMNS)] + [r.cells() for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
        lines = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
            )
            for row in cells
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def run_strategy(cfg: TextConfig, run_dir: Path) -> StrategyResult:
    """Train one strategy into ``run_dir``, measuring wall time and peak memory."""
    with PeakMemory(resolve_device(cfg.device)) as mem:
        start = time.perf_counter()
        res = fit_text(config=cfg, run_dir=run_dir)
        seconds = time.perf_counter() - start
    lr, head_lr = cfg.resolved_lrs()
    return StrategyResult(
        cfg.strategy,
        res.trainable_params,
        res.total_params,
        res.final.val_acc,
        res.final.val_f1,
        res.best["val_acc"],
        res.best["epoch"],
        seconds,
        mem.mib,
        mem.kind,
        lr,
        head_lr,
        str(run_dir),
    )


def _run_isolated(cfg: TextConfig, run_dir: Path) -> StrategyResult:
    """``run_strategy`` in a fresh Python process (own memory peak, own allocator)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_file, out_file = run_dir / "compare_config.json", run_dir / "compare_result.json"
    write_json_atomic(cfg_file, cfg.to_dict())
    proc = subprocess.run(
        [sys.executable, "-m", "headstart.text._worker", str(cfg_file), str(out_file)],
        env=os.environ.copy(),
        check=False,
    )
    if proc.returncode != 0 or not out_file.is_file():
        raise HeadstartError(
            f"the {cfg.strategy} run failed (exit {proc.returncode}); "
            f"see the messages above and {run_dir}"
        )
    return StrategyResult(**json.loads(out_file.read_text(encoding="utf-8")))


# Options that do not change what a run measures: a finished run is reused despite them.
NOT_MEASURED = ("out", "name", "progress", "cache_dir")


def finished_result(cfg: TextConfig, run_dir: Path) -> StrategyResult | None:
    """The result of ``run_dir`` if it finished with the same settings as ``cfg``."""
    cfg_file, out_file = run_dir / "compare_config.json", run_dir / "compare_result.json"
    if not (cfg_file.is_file() and out_file.is_file()):
        return None
    saved = json.loads(cfg_file.read_text(encoding="utf-8"))
    wanted = json.loads(json.dumps(cfg.to_dict()))
    if any(saved.get(k) != v for k, v in wanted.items() if k not in NOT_MEASURED):
        return None
    return StrategyResult(**json.loads(out_file.read_text(encoding="utf-8")))


def _auto_row(
    cfg: TextConfig,
    data: TextData,
    rows: list[StrategyResult],
    out: Path,
    run: Callable[[TextConfig, Path], StrategyResult],
) -> StrategyResult:
    """The ``auto`` row: recommend's advice, trained (or the row that already ran exactly
    it); its wall time includes the advice's. The advice is timed without importing
    transformers: each trained row pays that import in its own process, and a ``text train
    --strategy auto`` run pays it once for its advice and its training."""
    from transformers import AutoModel, AutoTokenizer  # noqa: F401

    start = time.perf_counter()
    rec = recommend_text(data, cfg)
    advice_s = time.perf_counter() - start
    print(f"auto: {rec.strategy}. " + " ".join(rec.reasons), flush=True)
    same = next((r for r in rows if r.strategy == rec.strategy and not rec.overrides), None)
    if same is not None:
        print(f"auto = {rec.strategy}: the same run as the {rec.strategy} row")
        row = dataclasses.replace(same, seconds=same.seconds + advice_s)
    else:
        resolved = dataclasses.replace(cfg, strategy=rec.strategy, **rec.overrides)
        row = run(resolved, out / "auto")
        row.seconds += advice_s
    row.strategy, row.resolved, row.advice_s = "auto", rec.strategy, advice_s
    return row


def compare_text(
    data: str | Path | None = None,
    config: TextConfig | None = None,
    strategies: Sequence[str] = STRATEGIES,
    isolate: bool = True,
    resume: str | Path | None = None,
    **overrides: Any,
) -> CompareResult:
    """Run ``strategies`` with a matched budget; write the table and the report.

    ``resume``: an earlier compare directory; strategies that finished there with the same
    settings are reused (an interrupted comparison continues), the others run.
    """
    cfg = dataclasses.replace(config or TextConfig(), **overrides)
    if data is not None:
        cfg.data = str(data)
    if not strategies:
        raise HeadstartError(f"--strategies is empty; choose from {', '.join(STRATEGIES)}")
    strategies = [
        s if s == "auto" else str(parse_strategy(s).check(ALLOWED, "text classification"))
        for s in strategies
    ]
    text_data = load_data(cfg)  # fail on bad data before the first run starts
    if resume is not None:
        out = Path(resume)
        if not out.is_dir():
            raise HeadstartError(f"--resume {out}: no such compare directory")
    else:
        out = new_run_dir(cfg.out, "text-compare", cfg.name or f"{Path(cfg.data).stem}-compare")
    print(
        f"compare: {out}  ({len(text_data.train_texts)} train / {len(text_data.val_texts)} "
        f"val texts, {cfg.epochs} epochs, batch {cfg.batch_size}, max length {cfg.max_length})"
    )
    rows: list[StrategyResult] = []
    run = _run_isolated if isolate else run_strategy
    for strategy in strategies:
        # Each strategy at its own default LRs (DEFAULT_LRS): one LR cannot suit them all.
        run_cfg = dataclasses.replace(cfg, strategy=strategy, lr=None, head_lr=None, name=strategy)
        print(f"\n=== {strategy} ===", flush=True)
        if strategy == "auto":
            rows.append(_auto_row(run_cfg, text_data, rows, out, run))
            continue
        done = finished_result(run_cfg, out / strategy) if resume is not None else None
        if done is not None:
            print(f"finished earlier with the same settings: {out / strategy}")
            rows.append(done)
            continue
        rows.append(run(run_cfg, out / strategy))
    settings = {
        k: getattr(cfg, k)
        for k in (
            "data",
            "text_col",
            "label_col",
            "model",
            "epochs",
            "batch_size",
            "max_length",
            "schedule",
            "warmup_epochs",
            "seed",
            "precision",
            "device",
        )
    }
    settings.update(
        isolated=isolate,
        train=len(text_data.train_texts),
        val=len(text_data.val_texts),
        classes=list(text_data.classes),
    )
    result = CompareResult(out, rows, settings)
    curves = {r.strategy: read_csv(Path(r.run_dir) / "metrics.csv") for r in rows}
    write_compare_report(result, curves)
    print("\n" + result.table())
    print(f"\nmemory: {rows[0].memory_kind}; report: {out / 'report.html'}")
    return result
