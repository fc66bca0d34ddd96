"""What an adaptation run writes: results.json, report.md, a self-contained report.html, plots,
and the table printed at the end."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from headstart.adaptation.gap import plot_domain_maps
from headstart.adaptation.task import METHODS
from headstart.io import write_json_atomic, write_text_atomic
from headstart.report.html import Content, inline_png, key_values, page, table, text
from headstart.report.markdown import md_escape, md_table
from headstart.report.plots import plot_lines

if TYPE_CHECKING:
    from headstart.adaptation.adapt import AdaptResult
    from headstart.adaptation.prepare import Prepared
    from headstart.adaptation.train import MethodResult


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _std(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.std(vals)) if vals else None


def summarise(runs: list[MethodResult]) -> dict[str, Any]:
    """Per method: each seed's target accuracy and the means; and DANN minus source-only."""
    out: dict[str, Any] = {}
    for method in METHODS:
        rs = [r for r in runs if r.method == method]
        out[method] = {
            "seeds": [r.seed for r in rs],
            "target_acc": [r.target_acc for r in rs],
            "target_acc_mean": _mean([r.target_acc for r in rs]),
            "target_acc_std": _std([r.target_acc for r in rs]),
            "source_val_acc_mean": _mean([r.source_val_acc for r in rs]),
            "pad_mean": _mean([r.pad for r in rs]),
            "pad_2d_mean": _mean([r.pad_2d for r in rs]),
            "domain_acc_mean": _mean([r.domain_acc for r in rs]),
        }
    a, b = out["dann"]["target_acc_mean"], out["source-only"]["target_acc_mean"]
    out["dann_minus_source_only_points"] = None if a is None or b is None else 100 * (a - b)
    return out


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table_rows(result: AdaptResult) -> list[list[str]]:
    head = [
        "seed",
        "method",
        "source val acc",
        "target acc",
        "discriminator acc (held-out)",
        "proxy A-distance",
        "PAD, top 2 PCs",
        "train time (s)",
    ]
    rows = [head]
    for r in result.runs:
        rows.append(
            [
                str(r.seed),
                r.method,
                _fmt(r.source_val_acc),
                _fmt(r.target_acc),
                _fmt(r.domain_acc),
                _fmt(r.pad, 3),
                _fmt(r.pad_2d, 3),
                f"{r.seconds:.0f}",
            ]
        )
    for method in METHODS:
        s = result.summary[method]
        acc = _fmt(s["target_acc_mean"])
        if s["target_acc_std"] is not None and len(s["seeds"]) > 1:
            acc += f" ± {s['target_acc_std']:.4f}"
        rows.append(
            [
                "mean",
                method,
                _fmt(s["source_val_acc_mean"]),
                acc,
                _fmt(s["domain_acc_mean"]),
                _fmt(s["pad_mean"], 3),
                _fmt(s["pad_2d_mean"], 3),
                "",
            ]
        )
    return rows


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def _plots(
    result: AdaptResult, pretrained: tuple[np.ndarray, np.ndarray], p: Prepared
) -> list[tuple[str, Path]]:
    run_dir, cfg = result.run_dir, p.cfg
    first = {r.method: r for r in result.runs if r.seed == cfg.seeds[0]}
    panels = {"pretrained backbone": pretrained}
    for method, title in (("source-only", "source-only"), ("dann", "DANN")):
        feats = first[method].features if method in first else None
        if feats is not None:
            panels[f"{title} (seed {cfg.seeds[0]})"] = feats
    figs = [
        (
            "Source vs target embeddings before and after adaptation",
            plot_domain_maps(
                run_dir / "embedding_map.png", panels, cfg.map_method, cfg.map_points, cfg.seeds[0]
            ),
        )
    ]
    acc = {
        f"{r.method} seed {r.seed}": (
            [h["epoch"] for h in r.history],
            [h["target_acc"] for h in r.history],
        )
        for r in result.runs
        if r.history and "target_acc" in r.history[0]
    }
    if acc:
        figs.append(
            (
                "Target accuracy per epoch (monitoring only, never used to pick a model)",
                plot_lines(
                    run_dir / "target_accuracy.png", acc, "target accuracy", "epoch", "accuracy"
                ),
            )
        )
    dom = {
        f"seed {r.seed}": ([h["epoch"] for h in r.history], [h["domain_acc"] for h in r.history])
        for r in result.runs
        if r.method == "dann" and r.history
    }
    figs.append(
        (
            "DANN discriminator accuracy on training batches (0.5 = domains confused)",
            plot_lines(
                run_dir / "domain_accuracy.png", dom, "domain discriminator", "epoch", "accuracy"
            ),
        )
    )
    return figs


def write_report(
    result: AdaptResult, p: Prepared, pretrained: tuple[np.ndarray, np.ndarray], seconds: float
) -> None:
    """results.json, report.md, report.html (PNGs inlined) and the printed table."""
    cfg, run_dir = p.cfg, result.run_dir
    figs = _plots(result, pretrained, p)
    rows = table_rows(result)
    gain = result.summary["dann_minus_source_only_points"]
    budget = (
        f"{cfg.epochs} epochs x {len(p.data.train) // cfg.batch_size} steps of "
        f"{cfg.batch_size} source images (DANN: + as many target images) per model, "
        f"seeds {', '.join(map(str, cfg.seeds))}; "
        + (
            f"the backbone's top {cfg.train_groups} layer group(s) train"
            if cfg.train_groups
            else "backbone frozen, the bottleneck adapts"
        )
    )
    facts = [
        ("source", f"{p.data.root}: {len(p.data.train)} train / {len(p.data.val)} val images"),
        (
            "target",
            f"{p.target.pool_root}: {len(p.target.pool)} unlabelled images; evaluated on "
            f"{len(p.target.evaluation)} labelled images ({p.target.note})",
        ),
        ("backbone", f"{p.backbone.name} ({p.backbone.weights_source})"),
        ("budget", budget),
        ("inputs", p.input_note),
        (
            "proxy A-distance of the pretrained features",
            f"{result.pretrained_pad:.3f} (top 2 PCs: {result.pretrained_pad_2d:.3f})",
        ),
        (
            "DANN - source-only, mean target accuracy",
            "-" if gain is None else f"{gain:+.2f} points",
        ),
        ("wall time", f"{seconds:.0f} s"),
    ]
    write_json_atomic(
        run_dir / "results.json",
        {
            "config": cfg.to_dict(),
            "facts": dict(facts),
            "pretrained_pad": result.pretrained_pad,
            "pretrained_pad_2d": result.pretrained_pad_2d,
            "runs": [r.row() for r in result.runs],
            "summary": result.summary,
            "plan": result.plan,
            "seconds": seconds,
        },
    )
    md = ["# Domain adaptation: source-only vs DANN", ""]
    md += [f"- **{md_escape(k)}**: {md_escape(v)}" for k, v in facts]
    md += ["", md_table(rows[1:], rows[0]), "", md_escape(_NOTES), ""]
    md += [f"![{title}]({path.name})" for title, path in figs]
    write_text_atomic(run_dir / "report.md", "\n".join(md) + "\n")
    write_text_atomic(run_dir / "report.html", _html(facts, rows, figs))
    print("\n" + text_table(rows))
    if gain is not None:
        print(f"DANN - source-only, mean target accuracy: {gain:+.2f} points")
    print(f"report: {run_dir / 'report.html'}")


_NOTES = (
    "Target labels are used only to score: the target images reach training without "
    "them. Both models of a seed share the head initialisation, the source batches, the "
    "steps and the LR schedule; each is scored after its last epoch. Proxy A-distance: "
    "2 (1 - 2 err) of a linear classifier telling held-out source from target embeddings "
    "(0: indistinguishable, 2: separable), on all dimensions and on the top two principal "
    "components; the discriminator accuracy is DANN's own discriminator on the same "
    "held-out images."
)


def _html(facts: list[tuple[str, str]], rows: list[list[str]], figs: list[tuple[str, Path]]) -> str:
    results = table([dict(zip(rows[0], r)) for r in rows[1:]], rows[0])
    sections: list[tuple[str, Content]] = [
        ("Run", key_values(facts)),
        ("Results", [results, text(_NOTES, note=True)]),
    ]
    sections += [(title, inline_png(path, title)) for title, path in figs]
    return page("Domain adaptation: source-only vs DANN", "headstart adapt", sections)
