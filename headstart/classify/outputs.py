"""What a training run writes and prints: plan, per-epoch lines, metrics, checkpoints, plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headstart.engine import distributed
from headstart.engine.loop import EpochResult, Loop
from headstart.engine.metrics import confusion, per_class_table
from headstart.engine.precision import precision_name
from headstart.io import write_json_atomic

if TYPE_CHECKING:
    from headstart.classify.fit import _Trainer


class RunWriter:
    """Loop callback: after every epoch print a line, rewrite metrics.csv, save checkpoints.

    Under torchrun every process keeps track of the best epoch; only the main one writes.
    """

    unit = "img"  # what the throughput line counts

    def __init__(self, run_dir: Path, trainer: _Trainer, resume_state: dict | None):
        self.run_dir = run_dir
        self.trainer = trainer
        self.ckpt_dir = run_dir / "checkpoints"
        self.best: dict[str, Any] = dict(resume_state["best"]) if resume_state else {}
        self.history_rows: list[dict] = list(resume_state["history"]) if resume_state else []
        self.best_result: EpochResult | None = None

    def previous_history(self) -> list[EpochResult]:
        keys = EpochResult.__dataclass_fields__
        out = []
        for row in self.history_rows:
            lrs = {k[3:]: v for k, v in row.items() if k.startswith("lr/")}
            out.append(EpochResult(**{k: v for k, v in row.items() if k in keys}, lrs=lrs))
        return out

    def announce(self) -> None:
        if not distributed.is_main():
            return
        t, data = self.trainer, self.trainer.data
        counts = data.counts("train")
        print(f"run: {self.run_dir}")
        print(
            f"data: {data.root}  {len(data.classes)} classes, {len(data.train)} train / "
            f"{len(data.val)} val images; per class {min(counts.values())}-{max(counts.values())}"
        )
        print(
            f"backbone: {t.backbone.name} ({t.backbone.weights_source}); "
            f"device {t.device}, precision {precision_name(t.dtype)}"
        )
        print(t.plan.table())
        if data.skipped:
            print(f"skipped {len(data.skipped)} unreadable image(s): listed in skipped_images.json")

    def __call__(self, result: EpochResult, loop: Loop) -> None:
        main = distributed.is_main()
        if main:
            print(result.line(loop.cfg.epochs, self.unit), flush=True)
        self.history_rows.append(result.row())
        improved = result.improves_on(self.best)
        if improved:
            self.best = result.best_entry()
            self.best_result = result
        if not main:
            return
        meta = {
            "epoch": result.epoch,
            "metrics": result.row(),
            "best": self.best,
            "history": self.history_rows,
        }
        t = self.trainer
        if improved:
            t.save(self.ckpt_dir / "best.safetensors", meta, None)
        # "last" carries the optimizer state so --resume continues exactly.
        t.save(self.ckpt_dir / "last.safetensors", meta, loop.optimizer_state())
        t.write_metrics(self.run_dir, loop.history)

    def finish(self, loop: Loop) -> None:
        from headstart.report.plots import plot_confusion, plot_curves

        if not distributed.is_main():
            return
        t = self.trainer
        classes = t.data.classes
        plots = t.cfg.report
        if plots:
            plot_curves(self.run_dir / "curves.png", self.history_rows)
        res = self.best_result or (loop.history[-1] if loop.history else None)
        summary: dict[str, Any] = {"best": self.best, "epochs": len(self.history_rows)}
        cm = None
        if res is not None and len(res.val_true):
            cm = confusion(res.val_true, res.val_pred, len(classes))
            if plots:
                plot_confusion(self.run_dir / "confusion_matrix.png", cm, classes)
            summary["per_class"] = per_class_table(res.val_true, res.val_pred, classes)
            summary["confusion_matrix"] = cm.tolist()
        write_json_atomic(self.run_dir / "summary.json", summary)
        if plots:
            self._report(res, cm, summary.get("per_class", []))
        best = self.best
        if best and not math.isnan(best.get("val_acc", math.nan)):
            print(
                f"best: epoch {best['epoch']}  val acc {best['val_acc']:.4f}  "
                f"macro-F1 {best['val_f1']:.4f}  -> {self.run_dir}"
            )
            if plots:
                print(f"report: {self.run_dir / 'report.html'}")

    def _report(self, res: EpochResult | None, cm: Any, per_class: list[dict]) -> None:
        from headstart.data.profile import profile
        from headstart.report.train_report import write_train_report
        from headstart.versions import versions

        t = self.trainer
        best = self.best
        lead = (
            f"{t.plan.strategy} on {t.data.root or 'the data'} with {t.backbone.name} "
            f"({t.backbone.weights_source}). Best epoch {best.get('epoch', '-')}: val accuracy "
            f"{best.get('val_acc', float('nan')):.4f}, macro-F1 {best.get('val_f1', float('nan')):.4f}."
        )
        env = {
            **versions("timm"),
            "device": str(t.device),
            "precision": precision_name(t.dtype),
            "threads": __import__("torch").get_num_threads(),
        }
        write_train_report(
            self.run_dir,
            title=f"headstart run {self.run_dir.name}",
            lead=lead,
            plan_table=t.plan.table(),
            data_profile=profile(t.data),
            rows=self.history_rows,
            per_class=per_class,
            cm=cm,
            classes=t.data.classes,
            val_paths=[str(s.path) for s in t.data.val],
            val_true=res.val_true if res is not None else None,
            val_prob=res.val_prob if res is not None else None,
            environment=env,
        )
