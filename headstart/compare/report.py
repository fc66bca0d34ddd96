"""The transfer-gap report: the table, two plots, and the reasons in plain words."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from headstart.io import write_json_atomic, write_text_atomic
from headstart.report.html import (
    Content,
    Links,
    bullets,
    inline_png,
    links,
    pre,
    readable,
    table,
    text,
    write_page,
)
from headstart.report.markdown import md_escape, md_table
from headstart.report.plots import plot_lines

if TYPE_CHECKING:
    from headstart.compare.run import CompareResult

COLUMNS = ["strategy", "val acc", "macro-F1", "trainable params", "wall time", "train img/s"]


def mean_curve(curves: list[dict[str, list[float]]], key: str) -> list[float]:
    """The mean of the seeds' curves epoch by epoch (as the table's means); the first seed's
    alone when a budget stopped the seeds after different epochs."""
    lengths = {len(c[key]) for c in curves}
    if len(lengths) != 1:
        return list(curves[0][key])
    return [statistics.fmean(c[key][i] for c in curves) for i in range(lengths.pop())]


def _pm(mean: float, std: float, seeds: int, digits: int = 4) -> str:
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if seeds > 1 else "")


def row_name(r: dict[str, Any]) -> str:
    """``auto (full, bn-stats adapt)``: the strategy asked for, then what ran when it differs
    (auto's pick and the settings it changed)."""
    ran = [r["resolved"]] if r["resolved"] != r["strategy"] else []
    ran += [
        f"{k.replace('_', '-')} {v}"
        for k, v in (r.get("settings") or {}).items()
        if k != "partial_groups"
    ]
    return r["strategy"] + (f" ({', '.join(ran)})" if ran else "")


def display_rows(result: CompareResult) -> list[dict[str, str]]:
    out = []
    for r in result.rows:
        name = row_name(r)
        share = 100 * r["trainable_params"] / max(1, r["total_params"])
        out.append(
            {
                "strategy": name,
                "val acc": _pm(r["val_acc"], r["val_acc_std"], r["seeds"]),
                "macro-F1": _pm(r["macro_f1"], r["macro_f1_std"], r["seeds"]),
                "trainable params": f"{r['trainable_params']:,} ({share:.1f}%)",
                "wall time": f"{r['wall_s']:.1f}s"
                + (f" ± {r['wall_s_std']:.1f}" if r["seeds"] > 1 else ""),
                "train img/s": f"{r['train_images_per_s']:.0f}",
                "_key": r["strategy"],
            }
        )
    return out


def text_table(result: CompareResult) -> str:
    rows = display_rows(result)
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    line = "  ".join(c.ljust(widths[c]) for c in COLUMNS)
    body = ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS) for r in rows]
    return "\n".join([line, "-" * len(line), *body])


def explain(result: CompareResult, facts: dict[str, float] | None = None) -> list[str]:
    """Why the strategies rank as they do, from what was measured; the figures it derives
    (points gained, time ratios) go to ``facts`` (results.json keeps them)."""
    facts = {} if facts is None else facts
    rows = {r["strategy"]: r for r in result.rows}
    win = result.winner
    lines = [
        f"Winner: {row_name(win)} with val accuracy {win['val_acc']:.4f} in {win['wall_s']:.0f}s."
    ]
    scratch = rows.get("scratch")
    gap = result.transfer_gap()
    if scratch is not None and gap is not None:
        lines.append(
            f"Transfer gap: the best transfer strategy beats training from scratch by "
            f"{100 * gap:.1f} points ({scratch['val_acc']:.4f} from scratch). Scratch trains all "
            f"{scratch['total_params']:,} parameters from random initialisation on "
            f"{result.config.get('train_images', 'these')} images, while the other strategies start "
            f"from what pretraining taught the backbone."
        )
        for r in result.rows:
            if r["resolved"] != "scratch" and r["val_acc"] <= scratch["val_acc"]:
                lines.append(f"{r['strategy']} did not beat scratch: " + _why_not(r, result))
    fe = rows.get("feature-extraction")
    tuned = [r for r in result.rows if r["resolved"] in ("partial", "full", "progressive")]
    if fe is not None and tuned:
        best_t = max(tuned, key=lambda r: r["val_acc"])
        diff = 100 * (best_t["val_acc"] - fe["val_acc"])
        facts["fine_tuning_gain_points"] = diff
        facts["fine_tuning_time_ratio"] = best_t["wall_s"] / max(fe["wall_s"], 1e-9)
        lines.append(
            f"Feature extraction trains {fe['trainable_params']:,} parameters and reaches "
            f"{fe['val_acc']:.4f} in {fe['wall_s']:.0f}s: how far frozen pretrained features separate "
            f"these classes. Fine-tuning ({best_t['strategy']}) "
            + (
                f"gains {diff:.1f} points by adapting the backbone to these images, "
                + time_ratio(best_t["wall_s"], fe["wall_s"])
                + "."
                if diff > 0
                else f"does not gain over it ({diff:+.1f} points): with this little data per class or "
                "these few epochs, adapting the backbone does not pay."
            )
        )
    lines.append(
        "What transfer learning predicts: scratch lowest on small data; feature extraction close to "
        "fine-tuning when the target resembles the pretraining data; partial, progressive and full "
        "fine-tuning pulling ahead as the domain shift and the data per class grow. "
        + _order_sentence(result)
    )
    if result.recommendation:
        rec = result.recommendation
        reasons = "; ".join(r.rstrip(".") for r in rec["reasons"])
        lines.append(f"auto chose {rec['strategy']}: {reasons}.")
    return lines


def _why_not(r: dict[str, Any], result: CompareResult) -> str:
    epochs = result.config.get("epochs")
    if epochs and r["epochs"] < epochs:
        return f"the wall-time budget stopped it after {r['epochs']:.0f} of {epochs} epochs."
    if r["seeds"] > 1 and r["val_acc_std"] > 0.02:
        return "the seeds disagree by more than the difference; run more seeds or epochs."
    if r["resolved"] == "feature-extraction":
        return (
            "the frozen features of these weights do not separate these classes (weights "
            "not pretrained, or a domain far from the pretraining data); fine-tune instead."
        )
    return (
        "with these learning rates and epochs it did not adapt well; try a lower --lr for "
        "the backbone, more epochs, or fewer unfrozen groups."
    )


def _order_sentence(result: CompareResult) -> str:
    """Whether this run shows scratch lowest: only said when scratch was run."""
    rows = {r["strategy"]: r for r in result.rows}
    scratch = rows.get("scratch")
    if scratch is None:
        return "Scratch was not run here, so this run does not test that order."
    transfer = [r for r in result.rows if r["resolved"] != "scratch"]
    if all(r["val_acc"] > scratch["val_acc"] for r in transfer):
        return "This run shows scratch lowest: every transfer strategy beat it."
    return "This run departs from it where noted above."


def time_ratio(seconds: float, base: float) -> str:
    """``at 1.5x the wall time (52s against 34s)``, or ``in 0.6x the wall time (...)``."""
    ratio = seconds / max(base, 1e-9)
    word = "at" if ratio >= 1 else "in"
    return f"{word} {ratio:.1f}x the wall time ({seconds:.0f}s against {base:.0f}s)"


def _plots(result: CompareResult) -> tuple[Path, Path]:
    """Validation accuracy per epoch, and against wall time (ending at the table's times)."""
    d = result.run_dir
    series_epoch = {}
    series_time = {}
    for r in result.rows:
        if r["reused_from"]:
            continue
        acc, secs = mean_curve(r["curves"], "val_acc"), mean_curve(r["curves"], "elapsed_s")
        series_epoch[r["strategy"]] = (list(range(1, len(acc) + 1)), acc)
        series_time[r["strategy"]] = (secs, acc)
    seeds = " (mean over seeds)" if len(result.config.get("seeds", [])) > 1 else ""
    acc_png = plot_lines(
        d / "val_accuracy.png", series_epoch, "validation accuracy per epoch" + seeds, "epoch",
        "val accuracy", integer_x=True,
    )  # fmt: skip
    time_png = plot_lines(
        d / "accuracy_vs_time.png", series_time, "accuracy against wall time" + seeds,
        "seconds", "val accuracy",
    )  # fmt: skip
    return acc_png, time_png


def write_compare_report(result: CompareResult) -> None:
    d = result.run_dir
    acc_png, time_png = _plots(result)
    facts: dict[str, float] = {}
    lines = explain(result, facts)
    write_json_atomic(
        d / "results.json",
        {
            "rows": result.rows,
            "winner": result.winner["strategy"],
            "transfer_gap": result.transfer_gap(),
            "recommendation": result.recommendation,
            "config": result.config,
            "explanation": lines,
            "facts": facts,
        },
    )
    rows = display_rows(result)
    md = [
        "# headstart compare",
        "",
        md_table(rows, COLUMNS),
        "",
        *[f"- {md_escape(x)}" for x in lines],
        "",
        "![validation accuracy](val_accuracy.png)",
        "",
        "![accuracy vs time](accuracy_vs_time.png)",
        "",
        "## Runs",
        "",
        *[
            f"- {md_escape(row_name(r))}: "
            + ", ".join(
                f"[{md_escape(Path(run).name)}]({quote(run_link(run, d))})" for run in r["runs"]
            )
            for r in result.rows
        ],
    ]
    write_text_atomic(d / "report.md", "\n".join(md) + "\n")
    win = result.winner["strategy"]
    cfg = result.config
    lead = (
        f"{cfg['data']} with {cfg['backbone']}: {len(result.rows)} strategies, "
        f"{cfg['epochs']} epochs, seeds {cfg['seeds']}, batch {cfg['batch_size']}."
    )
    sections: list[tuple[str, Content]] = [
        ("Transfer gap", table(rows, COLUMNS, highlight=lambda r: r["_key"] == win)),
        ("Why", bullets(lines)),
        ("Validation accuracy per epoch", inline_png(acc_png, "validation accuracy per epoch")),
        ("Accuracy against wall time", inline_png(time_png, "accuracy against wall time")),
    ]
    if result.recommendation:
        sections.append(("Recommendation (auto)", pre(_rec_text(result.recommendation))))
    sections.append(("Runs", [text("Each run has its own report.", note=True), _run_links(result)]))
    write_page(d / "report.html", "headstart compare: the transfer gap", lead, sections)


def _rec_text(rec: dict[str, Any]) -> str:
    settings = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in rec["overrides"].items())
    lines = [f"strategy: {rec['strategy']}", f"settings: {settings or 'defaults'}", "reasons:"]
    lines += [f"  - {r}" for r in rec["reasons"]]
    lines += ["measurements:"] + [f"  {k}: {readable(v)}" for k, v in rec["measurements"].items()]
    return "\n".join(lines)


def run_link(run: str, base: Path) -> str:
    """The path of a strategy run's report relative to the compare report (a link that keeps
    working when the whole compare folder moves)."""
    return Path(os.path.relpath(Path(run) / "report.html", base)).as_posix()


def _run_links(result: CompareResult) -> Links:
    return links(
        (row_name(r), [(run_link(run, result.run_dir), Path(run).name) for run in r["runs"]])
        for r in result.rows
    )
