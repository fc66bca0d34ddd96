"""``adapt``: source-only vs DANN with matched budgets, per seed, with the evidence.

>>> result = adapt(AdaptConfig(source="data/mnist5k", target="data/digits", seeds=[0, 1, 2]))
>>> result.summary["dann"]["target_acc_mean"], result.run_dir
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from headstart.adaptation.config import AdaptConfig
from headstart.adaptation.gap import proxy_a_distance
from headstart.adaptation.prepare import describe, prepare
from headstart.adaptation.report import summarise, write_report
from headstart.adaptation.task import METHODS
from headstart.adaptation.train import MethodResult, pretrained_features, train_method
from headstart.engine.rundir import new_run_dir, write_csv_atomic
from headstart.errors import HeadstartError
from headstart.io import write_text_atomic


@dataclass
class AdaptResult:
    run_dir: Path
    runs: list[MethodResult]
    summary: dict[str, Any]
    pretrained_pad: float
    pretrained_pad_2d: float


def adapt(config: AdaptConfig | None = None, **overrides: Any) -> AdaptResult:
    """Train a source-only and a DANN model for every seed; write results and the report."""
    cfg = dataclasses.replace(config or AdaptConfig(), **overrides)
    if not cfg.source or not cfg.target:
        raise HeadstartError("give both --source (labelled ImageFolder) and --target (images)")
    start = time.perf_counter()
    prepared = prepare(cfg)
    name = cfg.name or f"{Path(cfg.source).name}-to-{Path(cfg.target).name}"
    run_dir = new_run_dir(cfg.out, "adapt", name)
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    print(f"run: {run_dir}\n{describe(prepared)}", flush=True)
    f_s, f_t = pretrained_features(prepared)
    pad = proxy_a_distance(f_s, f_t, cfg.seeds[0])
    pad_2d = proxy_a_distance(f_s, f_t, cfg.seeds[0], components=2)
    print(
        f"proxy A-distance of the pretrained backbone's features: {pad:.3f} "
        f"(top two principal components: {pad_2d:.3f})",
        flush=True,
    )
    runs = [
        train_method(prepared, method, seed, run_dir) for seed in cfg.seeds for method in METHODS
    ]
    write_csv_atomic(run_dir / "metrics.csv", [row for r in runs for row in r.history])
    summary = summarise(runs)
    result = AdaptResult(run_dir, runs, summary, pad, pad_2d)
    write_report(result, prepared, (f_s, f_t), time.perf_counter() - start)
    return result
