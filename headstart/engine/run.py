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
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import yaml

from headstart.engine import distributed
from headstart.engine.checkpoint import (
    EXTRA,
    CheckpointMeta,
    read_meta,
    read_optimizer_state,
    read_tensors,
    save_checkpoint,
)
from headstart.engine.loop import Callback, EpochResult, Loop, LoopConfig
from headstart.engine.metrics import confusion, per_class_table
from headstart.engine.rundir import new_run_dir, remove_stale_temp_files, write_csv_atomic
from headstart.engine.task import Task
from headstart.errors import HeadstartError
from headstart.io import atomic_path, write_json_atomic, write_text_atomic
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


class Job(Protocol):
    """What a task gives the run. ``prepare`` builds data, model and plan; the rest is read
    after it."""

    kind: str  # the folder under --out: train | text | fewshot | adapt
    unit: str  # what the throughput counts: img | texts | episodes | pairs
    config: Any  # the task's config dataclass, saved as config.yaml
    classes: tuple[str, ...]
    write_report: bool

    def prepare(self) -> None: ...

    def preflight(self) -> list[Finding]: ...

    def describe(self) -> list[str]:
        """Lines printed when the run starts: data, model, precision, the plan."""
        ...

    def make_task(self) -> Task: ...

    def loop_config(self) -> LoopConfig: ...

    def meta(self) -> CheckpointMeta:
        """What every checkpoint of this run says (the run fills in epoch and metrics)."""
        ...

    def state(self) -> dict[str, torch.Tensor]:
        """The model tensors a checkpoint stores."""
        ...

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Other tensors the run needs to continue (stored beside the model's)."""
        ...

    def load_state(
        self, tensors: dict[str, torch.Tensor], extra: dict[str, torch.Tensor]
    ) -> None: ...

    def training(self) -> contextlib.AbstractContextManager[Any]:
        """A context the epochs run in (e.g. faster convolutions)."""
        ...

    def on_start(self, run_dir: Path) -> None:
        """Task files written once the run directory exists."""
        ...

    def conclude(self, outcome: Outcome) -> dict[str, Any]:
        """What the task measures once training ends (main process), added to summary.json."""
        ...

    def report(self, outcome: Outcome) -> None:
        """The task's own report (report.html / report.md) in ``outcome.run_dir``."""
        ...


@dataclass
class ResumeState:
    epoch: int
    optimizer: dict[str, dict[str, torch.Tensor]]
    history: list[dict[str, Any]]
    best: dict[str, Any]


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
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    elif distributed.is_main():
        run_dir = new_run_dir(out, job.kind, name)
    # Under torchrun the main process creates the run directory and tells the others.
    run_dir = distributed.broadcast_object(run_dir)
    return execute(job, Path(run_dir), callbacks, start=start)


def execute(
    job: Job,
    run_dir: Path,
    callbacks: Sequence[Callback] = (),
    state: ResumeState | None = None,
    start: float | None = None,
) -> Outcome:
    """Train a prepared ``job`` in ``run_dir`` (from ``state`` when resuming)."""
    start = time.perf_counter() if start is None else start
    main = distributed.is_main()
    if main:
        remove_stale_temp_files(run_dir)
        write_text_atomic(run_dir / "config.yaml", dump_config(job.config))
        job.on_start(run_dir)
        print(f"run: {run_dir}")
        print("\n".join(job.describe()), flush=True)
    recorder = Recorder(run_dir, job, state)
    loop = Loop(job.make_task(), job.loop_config(), [recorder, *callbacks])
    loop.history = [EpochResult.from_row(r) for r in recorder.rows]
    try:
        with job.training():
            loop.run(state.epoch if state else 0, state.optimizer if state else None)
    except KeyboardInterrupt:
        if main:
            print(f"interrupted; continue with --resume {run_dir}", file=sys.stderr)
        raise
    return finish(job, run_dir, loop.history, recorder, time.perf_counter() - start)


class Recorder:
    """Loop callback: after every epoch print a line, rewrite metrics.csv, save checkpoints.

    Under torchrun every process keeps track of the best epoch; only the main one writes.
    """

    def __init__(self, run_dir: Path, job: Job, state: ResumeState | None):
        self.run_dir = run_dir
        self.job = job
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
    """summary.json, curves, confusion matrix and the task's report; the closing lines."""
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
    write_json_atomic(run_dir / "summary.json", outcome.summary)
    if job.write_report and recorder.rows:
        plot_curves(run_dir / "curves.png", recorder.rows)
        if "confusion_matrix" in outcome.summary:
            cm = np.asarray(outcome.summary["confusion_matrix"])
            plot_confusion(run_dir / "confusion_matrix.png", cm, job.classes)
        job.report(outcome)
    remove_stale_temp_files(run_dir)
    best = recorder.best
    if best and not np.isnan(best.get("val_acc", np.nan)):
        print(
            f"best: epoch {best['epoch']}  val acc {best['val_acc']:.4f}  "
            f"macro-F1 {best['val_f1']:.4f}  -> {run_dir}"
        )
        if job.write_report and (run_dir / "report.html").is_file():
            print(f"report: {run_dir / 'report.html'}")
    return outcome


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


# ---- resume -----------------------------------------------------------------------------


@dataclass
class Stored:
    """A run directory as it is on disk: its config and its ``last`` checkpoint."""

    run_dir: Path
    config: dict[str, Any]
    last: Path
    meta: CheckpointMeta

    @classmethod
    def open(cls, run_dir: str | Path) -> Stored:
        run_dir = Path(run_dir)
        cfg_path, last = run_dir / "config.yaml", run_dir / "checkpoints" / "last.safetensors"
        if not cfg_path.is_file() or not last.is_file():
            raise HeadstartError(
                f"cannot resume {run_dir}: it has no config.yaml and checkpoints/last.safetensors "
                "(give the folder of a run that finished at least one epoch)"
            )
        try:
            config = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            config = None
        if not isinstance(config, dict):
            raise HeadstartError(f"cannot resume {run_dir}: {cfg_path} is not a config mapping")
        return cls(run_dir, config, last, read_meta(last))

    @property
    def planned(self) -> int:
        return int(self.config.get("epochs", self.meta.epoch))

    def finished(self) -> bool:
        return self.meta.epoch >= self.planned

    def with_epochs(self, epochs: int | None, extendable: bool = True) -> dict[str, Any]:
        """The config to resume with: ``epochs`` extends a finished run (only)."""
        config = dict(self.config)
        if epochs is None or epochs == self.planned:
            return config
        done = self.meta.epoch
        if done < self.planned:
            raise HeadstartError(
                f"--epochs {epochs}: {self.run_dir} stopped at epoch {done} of {self.planned}; "
                "resume it without --epochs first, then extend it"
            )
        if epochs < self.planned:
            raise HeadstartError(
                f"--epochs {epochs}: {self.run_dir} already trained {done} epochs; give more "
                "epochs to extend it"
            )
        if not extendable:
            raise HeadstartError(
                f"--epochs {epochs}: a {config.get('strategy')} run cannot be extended (its "
                "unfreezing milestones depend on the epochs); start a new run instead"
            )
        config["epochs"] = epochs
        return config

    def state(self) -> ResumeState:
        return ResumeState(
            self.meta.epoch, read_optimizer_state(self.last), self.meta.history, self.meta.best
        )


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
    job = build(config)
    job.prepare()
    if tuple(stored.meta.classes) != tuple(job.classes):
        raise HeadstartError(f"cannot resume {stored.run_dir}: the classes of its data changed")
    job.load_state(read_tensors(stored.last), read_tensors(stored.last, EXTRA))
    return execute(job, stored.run_dir, callbacks, stored.state())


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
