"""Text reports, built from the shared pieces of ``headstart.report.html`` (one self-contained
file each, charts inlined as base64):

- a run's ``report.html`` / ``report.md``: plan, data, curves, confusion matrix, per-class
  table, the validation texts the model got wrong most confidently, metrics per epoch;
- a comparison's ``results.json``, ``report.md`` and ``report.html``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from headstart.engine.precision import precision_name
from headstart.engine.run import Outcome
from headstart.io import write_json_atomic, write_text_atomic
from headstart.report.html import Content, inline_png, key_values, pre, table, text, write_page
from headstart.report.markdown import md_code, md_escape, md_page, md_table
from headstart.report.plots import plot_lines
from headstart.versions import versions

if TYPE_CHECKING:
    from headstart.text.compare import CompareResult

PER_CLASS = ["class", "precision", "recall", "f1", "support"]
EPOCH_COLS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_f1", "seconds"]
COMPARE_NOTE = (
    "val acc / macro-F1: last epoch on the validation split (no selection on val); best acc: "
    "the best epoch, the one saved as checkpoints/best. Trainable parameters include the new "
    "head. Wall time: the whole run (load, tokenize, embed or train, evaluate every epoch, "
    "write checkpoints)."
)


def confident_mistakes(
    texts: Sequence[str], true: np.ndarray, prob: np.ndarray, classes: Sequence[str], k: int = 10
) -> list[dict[str, Any]]:
    """The ``k`` validation texts misclassified with the highest confidence."""
    pred = prob.argmax(1)
    wrong = np.flatnonzero(pred != true)
    order = wrong[np.argsort(-prob[wrong, pred[wrong]])][:k]
    return [
        {
            "text": texts[i] if len(texts[i]) <= 200 else texts[i][:197] + "...",
            "true": classes[true[i]],
            "predicted": classes[pred[i]],
            "confidence": float(prob[i, pred[i]]),
        }
        for i in order
    ]


def write_run_report(
    run_dir: Path,
    *,
    lead: str,
    plan: str,
    counts: list[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    per_class: list[dict[str, Any]],
    mistakes: list[dict[str, Any]],
    environment: dict[str, Any],
) -> Path:
    """``report.html`` and ``report.md`` of one text run."""
    epochs = [{k: r[k] for k in EPOCH_COLS if k in r} for r in rows]
    sections: list[tuple[str, Content]] = [
        ("Plan", pre(plan)),
        ("Data", table(counts, ["class", "train", "val"])),
    ]
    if (run_dir / "curves.png").is_file():
        sections.append(("Curves", inline_png(run_dir / "curves.png", "loss and accuracy")))
    if (run_dir / "confusion_matrix.png").is_file():
        sections.append(("Confusion matrix", inline_png(run_dir / "confusion_matrix.png")))
    if per_class:
        sections.append(("Per class", table(per_class, PER_CLASS)))
    if mistakes:
        sections.append(
            (
                "Most confidently wrong validation texts",
                table(mistakes, ["text", "true", "predicted", "confidence"]),
            )
        )
    sections.append(("Metrics per epoch", table(epochs, EPOCH_COLS)))
    sections.append(("Environment", key_values(environment.items())))
    md = [("Plan", md_code(plan)), ("Metrics per epoch", [md_table(epochs, EPOCH_COLS)])]
    if per_class:
        md.append(("Per class", [md_table(per_class, PER_CLASS)]))
    title = f"headstart text run {run_dir.name}"
    write_text_atomic(run_dir / "report.md", md_page(title, lead, md))
    return write_page(run_dir / "report.html", title, lead, sections)


def write_text_run_report(job: Any, outcome: Outcome) -> Path:
    """The report of a finished ``TextJob`` run, in ``outcome.run_dir``."""
    best, res, data = outcome.best, outcome.best_result, job.data
    lead = (
        f"{job.cfg.strategy} on {data.source} with {job.cfg.model} ({job.source}). Best "
        f"epoch {best.get('epoch', '-')}: val accuracy "
        f"{best.get('val_acc', float('nan')):.4f}, macro-F1 "
        f"{best.get('val_f1', float('nan')):.4f}."
    )
    train, val = data.counts("train"), data.counts("val")
    counts = [{"class": c, "train": train[c], "val": val[c]} for c in data.classes]
    mistakes = []
    if res is not None and len(res.val_true):  # validation outputs are in data set order
        mistakes = confident_mistakes(data.val_texts, res.val_true, res.val_prob, data.classes)
    env = {
        **versions("transformers", "peft"),
        "device": str(job.device),
        "precision": precision_name(job.dtype),
        "threads": torch.get_num_threads(),
    }
    return write_run_report(
        outcome.run_dir,
        lead=lead,
        plan=job.plan.table(),
        counts=counts,
        rows=[r.row() for r in outcome.history],
        per_class=outcome.summary.get("per_class", []),
        mistakes=mistakes,
        environment=env,
    )


def write_compare_report(result: CompareResult, curves: dict[str, list[dict[str, str]]]) -> None:
    """``results.json``, ``report.md`` and ``report.html`` of a comparison."""
    out = result.run_dir
    series = {
        s: ([int(r["epoch"]) for r in rows], [float(r["val_acc"]) for r in rows])
        for s, rows in curves.items()
    }
    plot = plot_lines(
        out / "val_accuracy.png", series, "validation accuracy per epoch", "epoch", "val accuracy"
    )
    memory = result.rows[0].memory_kind if result.rows else ""
    write_json_atomic(
        out / "results.json",
        {
            "settings": result.settings,
            "memory": memory,
            "rows": [dataclasses.asdict(r) | {"share_percent": r.share} for r in result.rows],
        },
    )
    cols, cells = result.columns(), result.cell_rows()
    lrs = ", ".join(f"{r.strategy} {r.lr:g} / {r.head_lr:g}" for r in result.rows)
    notes = [COMPARE_NOTE, f"Peak memory: {memory}.", f"LRs (encoder or adapter / head): {lrs}."]
    md = [
        "# Text classification: strategies compared",
        "",
        md_escape(settings_line(result)),
        "",
        md_table(cells, cols),
        "",
        *[md_escape(n) for n in notes],
        "",
        f"![validation accuracy per epoch]({plot.name})",
        "",
    ]
    write_text_atomic(out / "report.md", "\n".join(md))
    sections: list[tuple[str, Content]] = [
        ("Strategies", [table(cells, cols), *(text(n, note=True) for n in notes)]),
        ("Validation accuracy per epoch", inline_png(plot, "validation accuracy")),
    ]
    write_page(
        out / "report.html",
        "Text classification: strategies compared",
        settings_line(result),
        sections,
    )


def settings_line(result: CompareResult) -> str:
    s = result.settings
    return (
        f"{s.get('train')} train / {s.get('val')} val texts from {s.get('data')}; model "
        f"{s.get('model')}; {s.get('epochs')} epochs, batch {s.get('batch_size')}, max "
        f"length {s.get('max_length')}, {s.get('schedule')} decay after "
        f"{s.get('warmup_epochs')} warmup epochs, seed {s.get('seed')}, precision "
        f"{s.get('precision')}"
    )
