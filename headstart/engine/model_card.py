"""``MODEL_CARD.md``: every run's model card, in the Hugging Face model-card layout.

YAML metadata first (``library_name``, ``tags``, ``datasets``, ``metrics``, ``base_model``,
``pipeline_tag`` and a ``model-index`` with the measured results), then the sections a reader
of a model card looks for: the model, its intended use, the training data, the training
procedure (the plan: which parameter groups trained, from which epoch, at which LR), the
evaluation, and limitations taken from what the run measured (classes with low recall, the
size of the validation set, selection on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from headstart.engine.checkpoint import CheckpointMeta
from headstart.io import write_text_atomic

LOW_RECALL_GAP = 0.10  # a class this far below the mean recall is named as a limitation

PIPELINES = {
    "image-classification": ("image-classification", "timm"),
    "text-classification": ("text-classification", "transformers"),
}

USAGE = {
    "image-classification": (
        "import headstart as hs\n\n"
        'ckpt = hs.Checkpoint.load("{run}")\n'
        'print(ckpt.predict(["image.png"], top_k=3)[0].top)'
    ),
    "text-classification": (
        "from headstart.text.checkpoint import TextCheckpoint\n\n"
        'ckpt = TextCheckpoint.load("{run}")\n'
        'print(ckpt.predict(["a text to classify"]))'
    ),
}


def _metadata(meta: CheckpointMeta, summary: Mapping[str, Any], data: str, name: str) -> dict:
    pipeline, library = PIPELINES.get(meta.task, (meta.task, "pytorch"))
    if meta.peft:
        library = "peft"
    base = (meta.backbone or {}).get("name") or (meta.model or {}).get("name") or ""
    tags = ["headstart", "transfer-learning", pipeline, f"strategy-{meta.strategy}"]
    best = summary.get("best") or {}
    metrics = [
        {"type": "accuracy", "value": round(float(best["val_acc"]), 4), "name": "val accuracy"},
        {"type": "f1", "value": round(float(best["val_f1"]), 4), "name": "val macro-F1"},
    ] if "val_acc" in best else []  # fmt: skip
    card: dict[str, Any] = {
        "library_name": library,
        "pipeline_tag": pipeline,
        "tags": tags,
        "datasets": [data] if data else [],
        "metrics": ["accuracy", "f1"],
    }
    if base:
        card["base_model"] = base
    card["model-index"] = [
        {
            "name": name,
            "results": [
                {
                    "task": {"type": pipeline},
                    "dataset": {
                        "name": data or "unnamed",
                        "type": data or "unnamed",
                        "split": "val",
                    },
                    "metrics": metrics,
                }
            ],
        }
    ]
    return card


def _plan_lines(plan: Mapping[str, Any]) -> list[str]:
    groups = plan.get("groups", [])
    if not groups:
        return ["(no plan recorded)"]
    lines = [
        "| group | parameters | LR | trains from epoch | batch norm |",
        "|---|---|---|---|---|",
    ]
    for g in groups:
        start = g.get("unfreeze_epoch")
        lines.append(
            f"| {g.get('name')} | {int(g.get('n_params', 0)):,} | {float(g.get('lr', 0)):.2e} | "
            f"{'frozen' if start is None else int(start) + 1} | {g.get('bn', '-')} |"
        )
    return lines


def low_recall(per_class: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Classes whose validation recall is more than ``LOW_RECALL_GAP`` below the mean."""
    rows = [r for r in per_class if int(r.get("support", 0)) > 0]
    if not rows:
        return []
    mean = sum(float(r["recall"]) for r in rows) / len(rows)
    return sorted(
        (r for r in rows if float(r["recall"]) < mean - LOW_RECALL_GAP),
        key=lambda r: float(r["recall"]),
    )


def _evaluation(summary: Mapping[str, Any]) -> list[str]:
    best = summary.get("best") or {}
    lines = []
    if "val_acc" in best:
        lines += [
            "| metric | value |",
            "|---|---|",
            f"| val accuracy (best epoch, {best.get('epoch')}) | {float(best['val_acc']):.4f} |",
            f"| val macro-F1 | {float(best['val_f1']):.4f} |",
            f"| val loss | {float(best['val_loss']):.4f} |",
            f"| epochs trained | {summary.get('epochs')} |",
        ]
    per_class = summary.get("per_class") or []
    if per_class:
        lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [
            f"| {_cell(r['class'])} | {float(r['precision']):.3f} | {float(r['recall']):.3f} | "
            f"{float(r['f1']):.3f} | {int(r['support'])} |"
            for r in per_class
        ]
    for score in summary.get("fewshot_eval") or []:
        lines.append(
            f"- few-shot {score.get('encoder')}: {score.get('ways')}-way {score.get('shots')}-shot "
            f"{float(score.get('mean', 0)):.3f} ± {float(score.get('ci95', 0)):.3f}"
        )
    return lines or ["No validation scores were recorded."]


def _limitations(summary: Mapping[str, Any]) -> list[str]:
    per_class = summary.get("per_class") or []
    n_val = sum(int(r.get("support", 0)) for r in per_class)
    out = []
    low = low_recall(per_class)
    if low:
        names = ", ".join(f"{_cell(r['class'])} (recall {float(r['recall']):.3f})" for r in low)
        out.append(
            f"- Classes recognised worst (recall more than {100 * LOW_RECALL_GAP:.0f} points "
            f"below the mean): {names}."
        )
    elif per_class:
        out.append(
            f"- No class's recall is more than {100 * LOW_RECALL_GAP:.0f} points below the mean."
        )
    if n_val:
        out.append(
            f"- Validated on {n_val} examples: one example is {100 / n_val:.2f} points of accuracy."
        )
    out.append(
        "- The reported epoch was selected on the same validation set, so its score is an "
        "optimistic estimate; evaluate on held-out test data before relying on it."
    )
    out.append("- The model knows only the classes above and will put any input into one of them.")
    return out


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def write_model_card(
    run_dir: Path,
    meta: CheckpointMeta,
    summary: Mapping[str, Any],
    data: str,
    extra: Sequence[str] = (),
) -> Path:
    """Write ``run_dir/MODEL_CARD.md`` for a finished run."""
    if meta.task.startswith("fewshot"):  # validation classes are episode positions, not names
        summary = {k: v for k, v in summary.items() if k != "per_class"}
    name = run_dir.name
    data_name = Path(data).name if data else ""
    header = yaml.safe_dump(_metadata(meta, summary, data_name, name), sort_keys=False)
    base = (meta.backbone or {}).get("name") or (meta.model or {}).get("name") or "a model"
    usage = USAGE.get(meta.task, "").format(run=run_dir.as_posix())
    lines = [
        "---",
        header.rstrip(),
        "---",
        "",
        f"# {name}",
        "",
        f"A {meta.task} model trained with headstart: {base} adapted with the "
        f"`{meta.strategy}` strategy to {len(meta.classes)} classes.",
        "",
        "## Intended use",
        "",
        f"Classifying inputs like those of `{data_name or 'the training data'}` into: "
        + ", ".join(f"`{_cell(c)}`" for c in meta.classes)
        + ". It was trained for this data set only; check it on your own data first.",
        "",
        "## Training data",
        "",
        f"`{_cell(data) or 'not recorded'}` (its train split; the validation split scored every "
        "epoch).",
        "",
        "## Training procedure",
        "",
        f"Strategy `{meta.strategy}`, precision {meta.precision}, "
        f"{summary.get('epochs', '?')} epochs. The plan (absolute learning rates):",
        "",
        *_plan_lines(meta.plan),
        "",
        "## Evaluation",
        "",
        *_evaluation(summary),
        "",
        "## Limitations",
        "",
        *_limitations(summary),
        *extra,
    ]
    if usage:
        lines += ["", "## How to use", "", "```python", usage, "```"]
    path = run_dir / "MODEL_CARD.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
