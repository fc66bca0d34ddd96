"""``compare``: every strategy on the same data with matched budgets — the transfer gap.

Each strategy runs as a user would run it alone: same epochs, seeds, batch size and data, a
cold feature cache of its own (so wall times include the feature pass it needs), and an optional
wall-time budget that stops it after the epoch that crosses it.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.backbones import load_backbone
from headstart.classify.fit import FitResult, fit
from headstart.compare.report import write_compare_report
from headstart.config import COMPARE_RULES, TrainConfig
from headstart.data.imagedata import ImageData
from headstart.engine.loop import EpochResult, Loop
from headstart.engine.rundir import new_run_dir
from headstart.options import check_option
from headstart.recommend import recommend
from headstart.strategies import make_plan

DEFAULT_STRATEGIES = ("scratch", "feature-extraction", "partial", "full", "progressive", "auto")


@dataclass
class StrategyResult:
    strategy: str  # as asked (e.g. "auto")
    resolved: str  # what ran (e.g. "progressive")
    runs: list[FitResult] = field(default_factory=list)
    reused_from: str | None = None  # auto can be the very same plan as another row
    settings: dict[str, Any] = field(default_factory=dict)  # what auto set besides the strategy

    def _mean_std(self, values: list[float]) -> tuple[float, float]:
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    def summary(self) -> dict[str, Any]:
        acc = self._mean_std([r.final.val_acc for r in self.runs])
        f1 = self._mean_std([r.final.val_f1 for r in self.runs])
        best = self._mean_std([r.best["val_acc"] for r in self.runs])
        secs = self._mean_std([r.seconds for r in self.runs])
        images = [sum(e.train_images_per_s * e.seconds for e in r.history) for r in self.runs]
        train_s = [sum(e.seconds for e in r.history) for r in self.runs]
        return {
            "strategy": self.strategy,
            "resolved": self.resolved,
            "val_acc": acc[0],
            "val_acc_std": acc[1],
            "macro_f1": f1[0],
            "macro_f1_std": f1[1],
            "best_val_acc": best[0],
            "trainable_params": self.runs[0].trainable_params,
            "total_params": self.runs[0].total_params,
            "trainable_percent": 100
            * self.runs[0].trainable_params
            / max(1, self.runs[0].total_params),
            "wall_s": secs[0],
            "wall_s_std": secs[1],
            "train_images_per_s": statistics.fmean(
                i / max(t, 1e-9) for i, t in zip(images, train_s)
            ),
            "epochs": statistics.fmean(len(r.history) for r in self.runs),
            "seeds": len(self.runs),
            "reused_from": self.reused_from,
            "settings": self.settings,
            "curves": [
                {"val_acc": [e.val_acc for e in r.history], "elapsed_s": elapsed(r)}
                for r in self.runs
            ],
            "runs": [str(r.run_dir) for r in self.runs],
        }


@dataclass
class CompareResult:
    run_dir: Path
    rows: list[dict[str, Any]]
    recommendation: dict[str, Any] | None
    config: dict[str, Any]

    @property
    def winner(self) -> dict[str, Any]:
        return max(self.rows, key=lambda r: (r["val_acc"], -r["wall_s"]))

    def row(self, strategy: str) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["strategy"] == strategy), None)

    def transfer_gap(self) -> float | None:
        """Best transfer strategy minus scratch, in accuracy points (0-1 scale)."""
        scratch = self.row("scratch")
        transfer = [r for r in self.rows if r["resolved"] != "scratch"]
        if scratch is None or not transfer:
            return None
        return max(r["val_acc"] for r in transfer) - scratch["val_acc"]


def elapsed(run: FitResult) -> list[float]:
    """The wall time of ``run`` at the end of each epoch, counted as the table counts it: the
    last epoch ends at the run's whole wall time, and what came before the first epoch (set-up,
    the feature pass) is in the first."""
    out, remaining = [], run.seconds
    for e in reversed(run.history):
        out.append(remaining)
        remaining -= e.seconds
    return out[::-1]


def _plans(
    strategies: list[str], base: TrainConfig
) -> tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, Any] | None]:
    """What each row runs: its strategy and settings (``auto``: the recommendation's)."""
    plans: dict[str, tuple[str, dict[str, Any]]] = {}
    recommendation = None
    for s in strategies:
        if s == "auto":
            rec = recommend(
                base.data, backbone=base.backbone, weights=base.weights, epochs=base.epochs,
                config=base,
            )  # fmt: skip
            recommendation = rec.to_dict()
            plans[s] = (rec.strategy, rec.overrides)
        else:
            plans[s] = (s, {})
    return plans, recommendation


def _run(
    base: TrainConfig,
    row: str,
    strategy: str,
    extra: dict[str, Any],
    seed: int,
    run_dir: Path,
    budget: float | None,
) -> FitResult:
    """One seed of one row, as a user would run it alone: with a cold feature cache."""
    with tempfile.TemporaryDirectory(prefix="headstart-compare-") as cold_cache:
        cfg = dataclasses.replace(
            base,
            strategy=strategy,
            seed=seed,
            cache_dir=cold_cache,
            out=str(run_dir / "runs"),
            name=f"{row}-seed{seed}",
            **extra,
        )
        return fit(config=cfg, callbacks=[Budget(budget)])


class Budget:
    """Loop callback: stop after the epoch in which the run's wall time passes ``seconds``."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.start = time.perf_counter()

    def __call__(self, result: EpochResult, loop: Loop) -> None:
        if self.seconds is not None and time.perf_counter() - self.start >= self.seconds:
            print(f"budget of {self.seconds:.0f}s reached after epoch {result.epoch}")
            loop.stop = True


def compare(
    data: str | Path,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    seeds: Sequence[int] = (0,),
    budget: float | None = None,
    config: TrainConfig | None = None,
    name: str | None = None,
    **overrides: Any,
) -> CompareResult:
    """Train each strategy with the same data, epochs and seeds; write the transfer-gap report.

    >>> result = compare("data/fmnist", epochs=5, seeds=[0, 1, 2])
    >>> result.winner["strategy"], result.transfer_gap()
    """
    base = dataclasses.replace(config or TrainConfig(), **overrides)
    base.data = str(data)
    strategies = check_option("strategies", list(strategies), COMPARE_RULES["strategies"])
    strategies = list(dict.fromkeys(strategies))
    seeds = check_option("seeds", list(seeds), COMPARE_RULES["seeds"])
    budget = check_option("budget", budget, COMPARE_RULES["budget"])
    ImageData.load(
        base.data, base.val_fraction, base.seed, base.classes, base.image_col, base.label_col
    )  # fail early
    if any(":" in s for s in strategies):  # partial:N within the backbone's layer groups
        parts = load_backbone(base.backbone, "random").parts()
        for s in (s for s in strategies if s != "auto"):
            make_plan(s, parts, [], base.epochs, base.plan_options())
    run_dir = new_run_dir(base.out, "compare", name or Path(base.data).name)
    plans, recommendation = _plans(strategies, base)
    results: list[StrategyResult] = []
    for i, s in enumerate(strategies, 1):
        resolved, extra = plans[s]
        same = next(
            (
                r
                for r in results
                if r.resolved == resolved and not plans[r.strategy][1] and not extra
            ),
            None,
        )
        if same is not None:  # auto chose exactly another row's plan: that run is its run
            results.append(StrategyResult(s, resolved, same.runs, reused_from=same.strategy))
            print(
                f"[{i}/{len(strategies)}] {s} = {resolved}: the same plan as the {same.strategy} row"
            )
            continue
        res = StrategyResult(s, resolved, settings=dict(extra))
        for seed in seeds:
            print(
                f"\n[{i}/{len(strategies)}] {s}"
                + (f" ({resolved})" if resolved != s else "")
                + f", seed {seed}"
            )
            res.runs.append(_run(base, s, resolved, extra, seed, run_dir, budget))
        results.append(res)
    rows = [r.summary() for r in results]
    result = CompareResult(
        run_dir,
        rows,
        recommendation,
        {**base.to_dict(), "strategies": strategies, "seeds": list(seeds), "budget_s": budget},
    )
    write_compare_report(result)
    return result
