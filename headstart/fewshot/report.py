"""The report of a few-shot training run: the plan, the curves, the few-shot evaluation of the
frozen backbone and the trained model on the same episodes, and the metrics per epoch."""

from __future__ import annotations

from typing import Any

from headstart.engine.run import Outcome
from headstart.io import write_text_atomic
from headstart.report.html import Content, inline_png, pre, table, text, write_page
from headstart.report.markdown import md_code, md_escape, md_page, md_table

SCORE_COLUMNS = ["encoder", "ways", "shots", "episodes", "accuracy"]
EPOCH_COLUMNS = ["epoch", "train loss", "train acc", "val loss", "val acc"]


def score_rows(scores: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "encoder": str(s["encoder"]),
            "ways": str(s["ways"]),
            "shots": str(s["shots"]),
            "episodes": str(s["episodes"]),
            "accuracy": f"{s['mean']:.4f} ± {s['ci95']:.4f}",
        }
        for s in scores
    ]


def epoch_rows(outcome: Outcome) -> list[dict[str, str]]:
    return [
        {
            "epoch": str(e.epoch),
            "train loss": f"{e.train_loss:.4f}",
            "train acc": f"{e.train_acc:.4f}",
            "val loss": f"{e.val_loss:.4f}",
            "val acc": f"{e.val_acc:.4f}",
        }
        for e in outcome.history
    ]


def write_fewshot_report(job: Any, outcome: Outcome) -> None:
    """``report.html`` and ``report.md`` of a finished ``FewShotJob``."""
    cfg, run_dir, summary = job.cfg, outcome.run_dir, outcome.summary
    what = (
        "episodes (prototypical loss)" if cfg.method == "protonet" else "pairs (contrastive loss)"
    )
    best = outcome.best
    lead = (
        f"{cfg.method} on {cfg.data} with {job.backbone.name}, trained on {what}; best epoch "
        f"{best.get('epoch', '-')}: val accuracy {best.get('val_acc', float('nan')):.4f} "
        f"(on {cfg.val_episodes} validation {'episodes' if cfg.method == 'protonet' else 'pair batches'})."
    )
    scores = score_rows(summary.get("fewshot_eval", []))
    threshold = summary.get("threshold")
    notes = (
        [f"Distance threshold for verify (best checkpoint): {threshold:.4f}."]
        if threshold is not None
        else []
    )
    evaluation = [md_table(scores, SCORE_COLUMNS), "", *map(md_escape, notes)]
    md = [
        (
            "Few-shot evaluation (mean accuracy ± 95% interval, the same episodes for each)",
            evaluation,
        ),
        ("Plan", md_code(job.plan.table())),
        ("Metrics per epoch", [md_table(epoch_rows(outcome), EPOCH_COLUMNS)]),
    ]
    title = f"headstart few-shot run {run_dir.name}"
    write_text_atomic(run_dir / "report.md", md_page(title, lead, md))
    sections: list[tuple[str, Content]] = [
        ("Few-shot evaluation", [table(scores, SCORE_COLUMNS), *[text(n) for n in notes]]),
        ("Plan", pre(job.plan.table())),
        ("Metrics per epoch", table(epoch_rows(outcome), EPOCH_COLUMNS)),
    ]
    if (run_dir / "curves.png").is_file():
        sections.insert(1, ("Curves", inline_png(run_dir / "curves.png", "loss and accuracy")))
    write_page(run_dir / "report.html", title, lead, sections)
