"""``adapt``: source-only vs DANN with matched budgets, per seed, with the evidence.

An adaptation run holds one run of the engine per method and seed, each with the layout of
every run (``runs/<method>-seed<N>/``: config.yaml, metrics.csv, summary.json,
checkpoints/best and last), and, at the top, the config, every epoch's metrics, the results
and the report. ``resume`` continues the models that did not finish and keeps the others.

>>> result = adapt(AdaptConfig(source="data/mnist5k", target="data/digits", seeds=[0, 1, 2]))
>>> result.summary["dann"]["target_acc_mean"], result.run_dir
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from headstart.adaptation.config import AdaptConfig
from headstart.adaptation.gap import proxy_a_distance
from headstart.adaptation.prepare import Prepared, describe, prepare
from headstart.adaptation.report import summarise, write_report
from headstart.adaptation.train import MethodJob, MethodResult, pretrained_features
from headstart.engine import distributed
from headstart.engine import run as engine
from headstart.engine.checkpoint import read_tensors
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
    plan: dict[str, Any] | None = None  # the plan of the first DANN model (or the first)


def adapt(
    config: AdaptConfig | None = None, resume: str | Path | None = None, **overrides: Any
) -> AdaptResult:
    """Train a model per method and seed; write results and the report.

    ``resume=RUN_DIR`` continues an interrupted adaptation run with its own settings.
    """
    if resume is not None:
        cfg, run_dir = _stored_config(Path(resume), **overrides), Path(resume)
        done = _finished(run_dir, cfg)
        if done is not None:
            print(f"{run_dir} finished every model; nothing to do")
            return done
    else:
        cfg = dataclasses.replace(config or AdaptConfig(), **overrides)
        run_dir = None
    if not cfg.source or not cfg.target:
        raise HeadstartError("give both --source (labelled ImageFolder) and --target (images)")
    start = time.perf_counter()
    prepared = prepare(cfg)
    main = distributed.is_main()
    if run_dir is None and main:
        name = cfg.name or f"{Path(cfg.source).name}-to-{Path(cfg.target).name}"
        run_dir = new_run_dir(cfg.out, "adapt", name)
    run_dir = Path(distributed.broadcast_object(run_dir))  # under torchrun: the main's
    if main:
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
    jobs = [MethodJob(prepared, m, s) for s in cfg.seeds for m in cfg.methods]
    runs = [_train(job, run_dir / "runs" / f"{job.method}-seed{job.seed}") for job in jobs]
    summary = summarise(runs)
    plan = next((j.plan for j in jobs if j.method == "dann"), jobs[0].plan).to_dict()
    result = AdaptResult(run_dir, runs, summary, pad, pad_2d, plan)
    if main:
        rows = [{"method": r.method, "seed": r.seed, **row} for r in runs for row in r.history]
        write_csv_atomic(run_dir / "metrics.csv", rows)
        write_report(result, prepared, (f_s, f_t), time.perf_counter() - start)
    return result


def _train(job: MethodJob, run_dir: Path) -> MethodResult:
    """Train ``job`` in ``run_dir``; continue it if it stopped there; if it finished there,
    only measure its final model again."""
    last = run_dir / "checkpoints" / "last.safetensors"
    if not last.is_file():
        return _result(job, engine.fit(job, "", "", run_dir=run_dir))
    stored = engine.Stored.open(run_dir)
    if not stored.finished():
        return _result(job, engine.resume(run_dir, lambda config: job))
    print(f"{run_dir} finished earlier: measuring its final model")
    job.prepare()
    job.load_state(read_tensors(last), read_tensors(last, engine.EXTRA))
    return job.measure(engine.stored_outcome(stored))


def _result(job: MethodJob, outcome: engine.Outcome) -> MethodResult:
    return job.result if hasattr(job, "result") else job.measure(outcome)


def _finished(run_dir: Path, cfg: AdaptConfig) -> AdaptResult | None:
    """The results of an adaptation run whose models all finished and whose report was
    written, read back (nothing is recomputed); None if anything is left to do."""
    results = run_dir / "results.json"
    subs = [run_dir / "runs" / f"{m}-seed{s}" for s in cfg.seeds for m in cfg.methods]
    last = [sub / "checkpoints" / "last.safetensors" for sub in subs]
    if not results.is_file() or not all(f.is_file() for f in last):
        return None
    if not all(engine.Stored.open(sub).finished() for sub in subs):
        return None
    saved = json.loads(results.read_text(encoding="utf-8"))
    runs = [
        MethodResult(**{**r, "history": engine.Stored.open(sub).meta.history})
        for r, sub in zip(saved["runs"], subs)
    ]
    return AdaptResult(
        run_dir, runs, saved["summary"], saved["pretrained_pad"], saved["pretrained_pad_2d"],
        saved.get("plan"),
    )  # fmt: skip


def _stored_config(run_dir: Path, **overrides: Any) -> AdaptConfig:
    """The config of an adaptation run, to resume it (``progress`` may change, nothing else)."""
    progress = overrides.pop("progress", True)
    if overrides:
        raise HeadstartError(
            f"--resume continues a run with its own settings; drop {', '.join(sorted(overrides))}"
        )
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise HeadstartError(f"cannot resume {run_dir}: it has no config.yaml of an adapt run")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise HeadstartError(f"cannot resume {run_dir}: {path} is not a config mapping")
    return dataclasses.replace(AdaptConfig(**config), progress=progress)


__all__ = ["AdaptResult", "Prepared", "adapt"]
