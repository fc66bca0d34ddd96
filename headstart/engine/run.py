"""The one run: every task trains through ``fit`` and writes the same run directory.

    runs/<kind>/<name>/
        config.yaml        the resolved config (what ``--resume`` and ``--config`` read back)
        metrics.csv        one row per epoch (``EpochResult.row``), rewritten after each epoch
        checkpoints/       best.safetensors and last.safetensors (+ .json), written atomically;
                           ``last`` carries the optimizer state so ``--resume`` continues exactly
        summary.json       best epoch, epochs, per-class table and confusion matrix of the best
        curves.png, confusion_matrix.png, report.html / report.md (the task's report)

A task supplies a ``Job``: how to build its model and data (``prepare``), its own checks
(``preflight``), its loop ``Task``, what its checkpoints hold and say, and its report. ``fit``
runs the steps in order: prepare, preflight, create the run directory, train, finish.
``resume`` continues a run from its ``last`` checkpoint, or says there is nothing to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from headstart.engine import distributed
from headstart.engine.checkpoint import (
    EXTRA,
    CheckpointMeta,
    read_tensors,
    save_checkpoint,
)
from headstart.engine.loop import Callback, EpochResult, Loop, LoopConfig
from headstart.engine.metrics import confusion, per_class_table
from headstart.engine.model_card import write_model_card
from headstart.engine.outputs import dump_config, load_outputs, run_files, save_outputs
from headstart.engine.rundir import new_run_dir, remove_stale_temp_files, write_csv_atomic
from headstart.engine.stored import ResumeState, Stored
from headstart.engine.task import Task
from headstart.engine.trackers import Trackers, make_trackers
from headstart.engine.tracking import RunInfo
from headstart.errors import HeadstartError
from headstart.io import write_json_atomic, write_text_atomic
from headstart.report.plots import plot_confusion, plot_curves


class Finding(Protocol):
    level: str  # "error" | "warning"
    code: str
    message: str


@dataclass
class Outcome:
    """What a finished (or resumed) run measured, for the task's report and result."""

    run_dir: Path
    history: list[EpochResult]
    best: dict[str, Any]
    best_result: EpochResult | None  # the best epoch with its validation outputs
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> EpochResult:
        return self.history[-1]


class Job:
    """What a task gives the run. ``prepare`` builds data, model and plan (``self.model``,
    ``self.device``, ``self.dtype``); the rest is read after it. A task overrides what it
    needs: ``prepare``, ``describe``, ``make_task`` and ``meta`` always."""

    kind = "train"  # the folder under --out: train | text | fewshot | adapt
    unit = "img"  # what the throughput counts: img | texts | episodes | pairs
    write_report = True
    config: Any  # the task's config dataclass, saved as config.yaml
    classes: tuple[str, ...] = ()
    model: nn.Module
    device: torch.device
    dtype: torch.dtype | None

    def prepare(self) -> None:
        raise NotImplementedError

    def preflight(self) -> list[Finding]:
        """The task's own checks before anything is written (the doctor's, for images)."""
        return []

    def describe(self) -> list[str]:
        """Lines printed when the run starts: data, model, precision, the plan."""
        raise NotImplementedError

    def make_task(self) -> Task:
        raise NotImplementedError

    def loop_config(self) -> LoopConfig:
        return LoopConfig.of(self.config, self.device, self.dtype)

    def meta(self) -> CheckpointMeta:
        """What every checkpoint of this run says (the run fills in epoch and metrics)."""
        raise NotImplementedError

    def state(self) -> dict[str, torch.Tensor]:
        """The model tensors a checkpoint stores."""
        return dict(self.model.state_dict())

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Other tensors the run needs to continue (stored beside the model's)."""
        return {}

    def load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(tensors)

    def training(self) -> contextlib.AbstractContextManager[Any]:
        """A context the epochs run in (e.g. faster convolutions)."""
        return contextlib.nullcontext()

    def on_start(self, run_dir: Path) -> None:
        """Task files written once the run directory exists."""

    def conclude(self, outcome: Outcome) -> dict[str, Any]:
        """What the task measures once training ends (main process), added to summary.json."""
        return {}

    def report(self, outcome: Outcome) -> None:
        """The task's own report (report.html / report.md) in ``outcome.run_dir``."""


def check_preflight(findings: Sequence[Finding], strict: bool = False) -> None:
    """Print the findings of a job's checks; refuse to train on errors (or any, with strict)."""
    for f in findings:
        print(f"headstart: {f.level}: [{f.code}] {f.message}", file=sys.stderr)
    errors = any(f.level == "error" for f in findings)
    if errors or (strict and findings):
        raise HeadstartError(
            f"{len(findings)} problem(s) found before training (listed above); "
            + ("fix them" if errors else "fix them or run without --strict")
        )


def fit(
    job: Job,
    out: str | Path,
    name: str,
    callbacks: Sequence[Callback] = (),
    strict: bool = False,
    run_dir: str | Path | None = None,
) -> Outcome:
    """Prepare, check, create ``out/<kind>/<name>`` (or use ``run_dir``), train and finish:
    the life of a run. Nothing is written before the checks pass."""
    start = time.perf_counter()
    job.prepare()
    check_preflight(job.preflight(), strict)
    trackers = job_trackers(job)  # before the run directory: a bad --track leaves nothing
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    elif distributed.is_main():
        run_dir = new_run_dir(out, job.kind, name)
    # Under torchrun the main process creates the run directory and tells the others.
    run_dir = distributed.broadcast_object(run_dir)
    return execute(job, Path(run_dir), callbacks, start=start, trackers=trackers)


def job_trackers(job: Job) -> Trackers:
    """The trackers the job's config asks for (``tensorboard``, ``track``); the main process
    alone logs."""
    cfg = job.config
    if not distributed.is_main():
        return Trackers([])
    return Trackers(make_trackers(getattr(cfg, "tensorboard", True), getattr(cfg, "track", None)))


def run_info(job: Job, run_dir: Path) -> RunInfo:
    meta = job.meta()
    cfg = job.config
    is_instance = dataclasses.is_dataclass(cfg) and not isinstance(cfg, type)
    config = dataclasses.asdict(cfg) if is_instance else {}
    return RunInfo(run_dir, job.kind, config, meta.plan, job.classes, job.unit)


def execute(
    job: Job,
    run_dir: Path,
    callbacks: Sequence[Callback] = (),
    state: ResumeState | None = None,
    start: float | None = None,
    trackers: Trackers | None = None,
) -> Outcome:
    """Train a prepared ``job`` in ``run_dir`` (from ``state`` when resuming)."""
    start = time.perf_counter() if start is None else start
    main = distributed.is_main()
    trackers = trackers or Trackers([])
    if main:
        remove_stale_temp_files(run_dir)
        write_text_atomic(run_dir / "config.yaml", dump_config(job.config))
        job.on_start(run_dir)
        print(f"run: {run_dir}")
        print("\n".join(job.describe()), flush=True)
        trackers.start(run_info(job, run_dir))
    recorder = Recorder(run_dir, job, state, trackers)
    loop = Loop(job.make_task(), job.loop_config(), [recorder, *callbacks])
    loop.history = [EpochResult.from_row(r) for r in recorder.rows]
    try:
        with job.training():
            loop.run(state.epoch if state else 0, state.optimizer if state else None)
        return finish(job, run_dir, loop.history, recorder, time.perf_counter() - start)
    except BaseException as err:
        if main and isinstance(err, KeyboardInterrupt):
            print(f"interrupted; continue with --resume {run_dir}", file=sys.stderr)
        trackers.close(failed=True)
        raise


class Recorder:
    """Loop callback: after every epoch print a line, rewrite metrics.csv, save checkpoints.

    Under torchrun every process keeps track of the best epoch; only the main one writes.
    """

    def __init__(
        self, run_dir: Path, job: Job, state: ResumeState | None, trackers: Trackers | None = None
    ):
        self.run_dir = run_dir
        self.job = job
        self.trackers = trackers or Trackers([])
        self.prior_seconds = 0.0 if state is None else state.seconds
        self.best: dict[str, Any] = dict(state.best) if state else {}
        self.rows: list[dict[str, Any]] = list(state.history) if state else []
        self.best_result: EpochResult | None = None

    def __call__(self, result: EpochResult, loop: Loop) -> None:
        main = distributed.is_main()
        if main:
            print(result.line(loop.cfg.epochs, self.job.unit), flush=True)
        self.rows.append(result.row())
        improved = result.improves_on(self.best)
        if improved:
            self.best = result.best_entry()
            self.best_result = result
        if not main:
            return
        if improved:
            self.save("best", result, None)
            save_outputs(self.run_dir / "checkpoints" / "best.outputs.npz", result)
        # "last" carries the optimizer state so --resume continues exactly.
        self.save("last", result, loop.optimizer_state())
        write_csv_atomic(self.run_dir / "metrics.csv", self.rows)
        self.trackers.epoch(result)

    def save(self, which: str, result: EpochResult, optimizer: dict | None) -> None:
        meta = self.job.meta()
        meta.epoch, meta.metrics, meta.best, meta.history = (
            result.epoch,
            result.row(),
            self.best,
            self.rows,
        )
        save_checkpoint(
            self.run_dir / "checkpoints" / f"{which}.safetensors",
            self.job.state(),
            meta,
            optimizer,
            extra=self.job.extra_state(),
        )


def finish(
    job: Job, run_dir: Path, history: list[EpochResult], recorder: Recorder, seconds: float
) -> Outcome:
    """summary.json, curves, confusion matrix, the task's report and the model card; the
    trackers' last words; the closing lines."""
    best_result = recorder.best_result or load_outputs(
        run_dir / "checkpoints" / "best.outputs.npz", recorder.best
    )
    outcome = Outcome(run_dir, history, recorder.best, best_result, seconds)
    outcome.summary = {"best": recorder.best, "epochs": len(recorder.rows)}
    res = best_result
    if res is not None and len(res.val_true):
        cm = confusion(res.val_true, res.val_pred, len(job.classes))
        outcome.summary["per_class"] = per_class_table(res.val_true, res.val_pred, job.classes)
        outcome.summary["confusion_matrix"] = cm.tolist()
    if not distributed.is_main():
        return outcome
    outcome.summary.update(job.conclude(outcome))
    outcome.summary["seconds"] = round(recorder.prior_seconds + seconds, 3)
    outcome.summary["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json_atomic(run_dir / "summary.json", outcome.summary)
    if job.write_report and recorder.rows:
        plot_curves(run_dir / "curves.png", recorder.rows)
        if "confusion_matrix" in outcome.summary:
            cm = np.asarray(outcome.summary["confusion_matrix"])
            plot_confusion(run_dir / "confusion_matrix.png", cm, job.classes)
        job.report(outcome)
    cfg = job.config
    data = str(getattr(cfg, "data", "") or getattr(cfg, "source", "") or "")
    write_model_card(run_dir, job.meta(), outcome.summary, data)
    recorder.trackers.finish(outcome.summary, run_files(run_dir))
    recorder.trackers.close()
    remove_stale_temp_files(run_dir)
    _closing_lines(job, run_dir, recorder.best)
    return outcome


def _closing_lines(job: Job, run_dir: Path, best: dict[str, Any]) -> None:
    if best and not np.isnan(best.get("val_acc", np.nan)):
        print(
            f"best: epoch {best['epoch']}  val acc {best['val_acc']:.4f}  "
            f"macro-F1 {best['val_f1']:.4f}  -> {run_dir}"
        )
    if job.write_report and (run_dir / "report.html").is_file():
        print(f"report: {run_dir / 'report.html'}")


# ---- resume -----------------------------------------------------------------------------


def resume(
    run_dir: str | Path,
    build: Callable[[dict[str, Any]], Job],
    epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
    extendable: Callable[[dict[str, Any]], bool] = lambda config: True,
) -> Outcome:
    """Continue the run in ``run_dir`` from its ``last`` checkpoint (exactly as if it had not
    stopped), extend a finished one to ``epochs``, or change nothing when it is finished.

    ``build`` makes the task's job from the stored config.
    """
    stored = Stored.open(run_dir)
    config = stored.with_epochs(epochs, extendable(stored.config))
    if stored.finished() and config["epochs"] == stored.planned:
        print(
            f"{stored.run_dir} finished all {stored.planned} epochs; nothing to do (give "
            "--epochs N to extend it)"
        )
        return stored_outcome(stored)
    if config["epochs"] != stored.planned:
        print(
            f"extending {stored.run_dir} from {stored.planned} to {config['epochs']} epochs: the "
            f"LR schedule continues as that of a {config['epochs']}-epoch run from epoch "
            f"{stored.meta.epoch + 1}"
        )
    if config.get("precision") == "auto" and stored.meta.precision in ("bf16", "fp32"):
        # on a CPU, auto is decided by timing (engine/precision_probe.py): the run continues
        # in the precision it trained with, whatever a new measurement would say
        config["precision"] = stored.meta.precision
    job = build(config)
    job.prepare()
    if tuple(stored.meta.classes) != tuple(job.classes):
        raise HeadstartError(f"cannot resume {stored.run_dir}: the classes of its data changed")
    job.load_state(read_tensors(stored.last), read_tensors(stored.last, EXTRA))
    trackers = job_trackers(job)
    return execute(job, stored.run_dir, callbacks, stored.state(), trackers=trackers)


def resume_job(
    run_dir: str | Path,
    build: Callable[[dict[str, Any], bool], Job],
    overrides: dict[str, Any],
    callbacks: Sequence[Callback] = (),
    extendable: Callable[[dict[str, Any]], bool] = lambda config: (
        "progressive" not in str(config.get("strategy", ""))
    ),
) -> tuple[Outcome, Job | None]:
    """``resume`` with what a user may change when resuming: ``epochs`` (to extend a finished
    run) and ``progress``; any other option is refused. ``build(config, progress)`` makes the
    job; it is returned, or None when the run had finished (nothing was built)."""
    progress = overrides.pop("progress", True)
    epochs = overrides.pop("epochs", None)
    if overrides:
        raise HeadstartError(
            f"--resume continues a run with its own settings; drop {', '.join(sorted(overrides))}"
        )
    jobs: list[Job] = []

    def make(config: dict[str, Any]) -> Job:
        jobs.append(build(config, progress))
        return jobs[-1]

    outcome = resume(run_dir, make, epochs, callbacks, extendable)
    return outcome, (jobs[0] if jobs else None)


def stored_outcome(stored: Stored) -> Outcome:
    """The outcome of a finished run, read back from its files (nothing is recomputed)."""
    history = [EpochResult.from_row(r) for r in stored.meta.history]
    best = stored.meta.best
    res = load_outputs(stored.run_dir / "checkpoints" / "best.outputs.npz", best)
    summary_path = stored.run_dir / "summary.json"
    summary = {}
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return Outcome(stored.run_dir, history, best, res, 0.0, summary)
