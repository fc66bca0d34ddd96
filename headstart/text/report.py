"""The text comparison report: ``results.json``, ``report.md`` and a self-contained
``report.html`` (its chart inlined as base64, so the one file can be sent around)."""

from __future__ import annotations

import base64
import dataclasses
import html
from pathlib import Path
from typing import TYPE_CHECKING

from headstart.io import write_json_atomic, write_text_atomic
from headstart.report.plots import plot_lines

if TYPE_CHECKING:
    from headstart.text.compare import CompareResult

NOTE = ("val acc / macro-F1: last epoch on the validation split (no selection on val); "
        "best acc: the best epoch, the one saved as checkpoints/best. Trainable parameters "
        "include the new head. Wall time: the whole run (load, tokenize, embed/train, "
        "evaluate each epoch, checkpoints).")


def write_reports(result: CompareResult, curves: dict[str, list[dict[str, str]]]) -> None:
    out = result.run_dir
    series = {s: ([int(r["epoch"]) for r in rows], [float(r["val_acc"]) for r in rows])
              for s, rows in curves.items()}
    plot = plot_lines(out / "val_accuracy.png", series, "validation accuracy per epoch",
                      "epoch", "val accuracy")
    write_json_atomic(out / "results.json", {
        "settings": result.settings,
        "memory": result.rows[0].memory_kind if result.rows else "",
        "rows": [dataclasses.asdict(r) | {"share_percent": r.share} for r in result.rows],
    })
    write_text_atomic(out / "report.md", markdown(result, plot.name))
    write_text_atomic(out / "report.html", page(result, plot))


def _settings_line(result: CompareResult) -> str:
    s = result.settings
    return (f"{s.get('train')} train / {s.get('val')} val texts from {s.get('data')}; model "
            f"{s.get('model')}; {s.get('epochs')} epochs, batch {s.get('batch_size')}, max "
            f"length {s.get('max_length')}, {s.get('schedule')} decay after "
            f"{s.get('warmup_epochs')} warmup epochs, seed {s.get('seed')}")


def markdown(result: CompareResult, image: str) -> str:
    from headstart.text.compare import COLUMNS

    rows = [r.cells() for r in result.rows]
    lrs = ", ".join(f"{r.strategy} {r.lr:g}/{r.head_lr:g}" for r in result.rows)
    lines = ["# Text classification: strategies compared", "", _settings_line(result), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c) + " |" for c in rows]
    mem = result.rows[0].memory_kind if result.rows else ""
    lines += ["", NOTE, f"Peak memory: {mem}.", f"LRs (encoder or adapter / head): {lrs}.",
              "", f"![validation accuracy per epoch]({image})", ""]
    return "\n".join(lines)


def page(result: CompareResult, image: Path) -> str:
    from headstart.text.compare import COLUMNS

    png = base64.b64encode(image.read_bytes()).decode("ascii")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r.cells()) + "</tr>"
                   for r in result.rows)
    mem = html.escape(result.rows[0].memory_kind if result.rows else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>headstart: text strategies compared</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}th{{background:#f3f3f3}}img{{max-width:100%}}
</style></head><body>
<h1>Text classification: strategies compared</h1>
<p>{html.escape(_settings_line(result))}</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>{html.escape(NOTE)} Peak memory: {mem}.</p>
<img alt="validation accuracy per epoch" src="data:image/png;base64,{png}">
</body></html>
"""
