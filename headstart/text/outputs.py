"""What a text run writes and prints: the plan, a line per epoch, ``metrics.csv``, the
``best`` and ``last`` checkpoints, curves, confusion matrix, ``summary.json`` and the report.

The same files as an image run, from the same core pieces (``save_checkpoint``,
``write_csv_atomic``, ``plot_curves``, ``plot_confusion``, ``per_class_table``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from headstart.engine.loop import EpochResult, Loop
from headstart.engine.metrics import confusion, per_class_table
from headstart.engine.precision import precision_name
from headstart.engine.rundir import write_csv_atomic
from headstart.io import write_json_atomic
from headstart.report.plots import plot_confusion, plot_curves
from headstart.text.report import confident_mistakes, write_run_report
from headstart.text.task import length_order

if TYPE_CHECKING:
    from headstart.text.fit import TextTrainer


class TextRunWriter:
    """Loop callback: after every epoch print a line, rewrite metrics.csv, save checkpoints."""

    def __init__(self, run_dir: Path, trainer: TextTrainer):
        self.run_dir = run_dir
        self.trainer = trainer
        self.ckpt_dir = run_dir / "checkpoints"
        self.best: dict[str, Any] = {}
        self.best_result: EpochResult | None = None
        self.rows: list[dict[str, Any]] = []

    def announce(self) -> None:
        t = self.trainer
        counts = t.data.counts("train")
        print(f"run: {self.run_dir}")
        print(
            f"data: {t.data.source}  {len(t.data.classes)} classes, {len(t.data.train_texts)} "
            f"train / {len(t.data.val_texts)} val texts; per class "
            f"{min(counts.values())}-{max(counts.values())}"
        )
        print(
            f"model: {t.cfg.model} ({t.source}); max length {t.max_length} tokens; "
            f"device {t.device}, precision {precision_name(t.dtype)}"
        )
        print(t.groups_table, flush=True)

    def __call__(self, result: EpochResult, loop: Loop) -> None:
        print(result.line(loop.cfg.epochs, "texts"), flush=True)
        self.rows.append(result.row())
        improved = result.improves_on(self.best)
        if improved:
            self.best = result.best_entry()
            self.best_result = result
        meta = {
            "epoch": result.epoch,
            "metrics": result.row(),
            "best": self.best,
            "history": self.rows,
        }
        if improved:
            self.trainer.save(self.ckpt_dir / "best.safetensors", meta)
        self.trainer.save(self.ckpt_dir / "last.safetensors", meta)
        write_csv_atomic(self.run_dir / "metrics.csv", self.rows)

    def finish(self, loop: Loop) -> None:
        classes = self.trainer.data.classes
        plot_curves(self.run_dir / "curves.png", self.rows)
        res = self.best_result or (loop.history[-1] if loop.history else None)
        summary: dict[str, Any] = {"best": self.best, "epochs": len(self.rows)}
        per_class: list[dict] = []
        if res is not None and len(res.val_true):
            cm = confusion(res.val_true, res.val_pred, len(classes))
            plot_confusion(self.run_dir / "confusion_matrix.png", cm, classes)
            per_class = per_class_table(res.val_true, res.val_pred, classes)
            summary.update(per_class=per_class, confusion_matrix=cm.tolist())
        write_json_atomic(self.run_dir / "summary.json", summary)
        self._report(res, per_class)
        if self.best:
            print(
                f"best: epoch {self.best['epoch']}  val acc {self.best['val_acc']:.4f}  "
                f"macro-F1 {self.best['val_f1']:.4f}  -> {self.run_dir}"
            )

    def _report(self, res: EpochResult | None, per_class: list[dict]) -> None:
        from headstart.versions import versions

        t, best = self.trainer, self.best
        lead = (
            f"{t.cfg.strategy} on {t.data.source} with {t.cfg.model} ({t.source}). Best "
            f"epoch {best.get('epoch', '-')}: val accuracy "
            f"{best.get('val_acc', float('nan')):.4f}, macro-F1 "
            f"{best.get('val_f1', float('nan')):.4f}."
        )
        train, val = t.data.counts("train"), t.data.counts("val")
        counts = [{"class": c, "train": train[c], "val": val[c]} for c in t.data.classes]
        mistakes = []
        if res is not None and len(res.val_true):
            # The loop sees val texts shortest first (length_order), cached embeddings in order.
            order = (
                list(range(len(t.data.val_texts)))
                if t.cfg.strategy == "frozen"
                else length_order(t.tokens["val"])
            )
            texts = [t.data.val_texts[i] for i in order]
            mistakes = confident_mistakes(texts, res.val_true, res.val_prob, t.data.classes)
        env = {
            **versions("transformers", "peft"),
            "device": str(t.device),
            "precision": precision_name(t.dtype),
            "threads": torch.get_num_threads(),
        }
        write_run_report(
            self.run_dir,
            lead=lead,
            plan=t.groups_table,
            counts=counts,
            rows=self.rows,
            per_class=per_class,
            mistakes=mistakes,
            environment=env,
        )
