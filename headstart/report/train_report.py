"""``report.html`` of a training run: plan, data, curves, confusion, per class, mistakes, LRs."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from headstart.data.images import open_image
from headstart.io import write_text_atomic
from headstart.report.html import (
    Content,
    figure,
    gallery,
    inline_png,
    key_values,
    pre,
    table,
    text,
    write_page,
)
from headstart.report.markdown import md_code, md_page, md_table
from headstart.report.plots import plot_confusion, plot_lines

PCT = {
    "precision": lambda v: f"{v:.3f}",
    "recall": lambda v: f"{v:.3f}",
    "f1": lambda v: f"{v:.3f}",
}


def plot_lrs(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """The LR of every optimizer group at the end of each epoch (0 while a group is frozen)."""
    names = sorted({k[3:] for r in rows for k in r if k.startswith("lr/")})
    epochs = [int(r["epoch"]) for r in rows]
    series = {
        n: (epochs, [float(r.get(f"lr/{n}") or 0.0) for r in rows])
        for n in names
        if "(no decay)" not in n
    }
    return plot_lines(path, series, "learning rate per parameter group", "epoch", "LR")


def confident_mistakes(
    paths: Sequence[str], true: np.ndarray, prob: np.ndarray, classes: Sequence[str], k: int = 16
) -> Content:
    """A grid of the validation images the model got wrong with the highest confidence."""
    pred = prob.argmax(1)
    wrong = np.flatnonzero(pred != true)
    order = wrong[np.argsort(-prob[wrong, pred[wrong]])][:k]
    if not len(order):
        return text("No validation image was misclassified.")
    figs = []
    for i in order:
        thumb = open_image(paths[i])
        thumb.thumbnail((120, 120), Image.Resampling.BICUBIC)
        if max(thumb.size) < 120:  # upscale tiny images so they can be seen
            s = 120 / max(thumb.size)
            thumb = thumb.resize(
                (round(thumb.width * s), round(thumb.height * s)), Image.Resampling.NEAREST
            )
        buf = io.BytesIO()
        thumb.save(buf, "PNG")
        caption = [
            ("true", classes[true[i]]),
            ("predicted", f"{classes[pred[i]]} ({prob[i, pred[i]]:.2f})"),
        ]
        figs.append(figure(buf.getvalue(), "mistake", caption))
    return gallery(figs)


def write_train_report(
    run_dir: Path,
    *,
    title: str,
    lead: str,
    plan_table: str,
    data_profile: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    per_class: list[dict],
    cm: np.ndarray | None,
    classes: Sequence[str],
    val_paths: Sequence[str],
    val_true: np.ndarray | None,
    val_prob: np.ndarray | None,
    environment: dict[str, Any],
) -> Path:
    """Write ``report.html`` and ``report.md`` into ``run_dir``."""
    sections: list[tuple[str, Content]] = [("Plan", pre(plan_table))]
    sections += _data_sections(run_dir, data_profile, classes, cm, per_class)
    if val_true is not None and val_prob is not None and len(val_true):
        sections.append(
            (
                "Most confidently wrong validation images",
                confident_mistakes(val_paths, val_true, val_prob, classes),
            )
        )
    if rows and any(k.startswith("lr/") for k in rows[0]):
        lr_png = plot_lrs(run_dir / "learning_rates.png", rows)
        sections.append(("Learning rate per parameter group", inline_png(lr_png, "LRs")))
    cols = [
        c
        for c in (
            "epoch",
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "val_f1",
            "seconds",
            "train_images_per_s",
        )
        if rows and c in rows[0]
    ]
    sections.append(
        ("Metrics per epoch", table([{k: _num(r[k]) for k in cols} for r in rows], cols))
    )
    sections.append(("Environment", key_values(environment.items())))
    md = [
        ("Plan", md_code(plan_table)),
        ("Metrics per epoch", [md_table([{k: _num(r[k]) for k in cols} for r in rows], cols)]),
    ]
    if per_class:
        per_class_md = md_table(per_class, ["class", "precision", "recall", "f1", "support"], PCT)
        md.append(("Per class", [per_class_md]))
    write_text_atomic(run_dir / "report.md", md_page(title, lead, md))
    return write_page(run_dir / "report.html", title, lead, sections)


def _data_sections(
    run_dir: Path,
    data_profile: dict[str, Any],
    classes: Sequence[str],
    cm: np.ndarray | None,
    per_class: list[dict],
) -> list[tuple[str, Content]]:
    """Data counts and profile, curves, confusion matrices and the per-class table."""
    prof_rows = [
        {
            "class": c,
            "train": data_profile["train_counts"].get(c, 0),
            "val": data_profile["val_counts"].get(c, 0),
        }
        for c in classes
    ]
    prof = {k: v for k, v in data_profile.items() if k not in ("train_counts", "val_counts")}
    sections: list[tuple[str, Content]] = [
        ("Data", [table(prof_rows, ["class", "train", "val"]), key_values(prof.items())])
    ]
    if (run_dir / "curves.png").is_file():
        sections.append(("Curves", inline_png(run_dir / "curves.png", "loss and accuracy")))
    if cm is not None:
        norm = plot_confusion(
            run_dir / "confusion_matrix_normalized.png", cm, classes, normalize=True
        )
        counts = inline_png(run_dir / "confusion_matrix.png", "counts")
        sections.append(("Confusion matrix", [counts, inline_png(norm, "normalized")]))
        sections.append(
            ("Per class", table(per_class, ["class", "precision", "recall", "f1", "support"], PCT))
        )
    return sections


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() and abs(f) > 1 else f
