"""TensorBoard events of a run in ``RUN/tensorboard/`` (``tensorboard --logdir runs``).

Per epoch: ``loss/train``, ``loss/val``, ``accuracy/train``, ``accuracy/val``,
``macro_f1/val``, ``throughput/train_<unit>_per_s``, ``lr/<group>`` for every parameter group
of the plan and ``logs/<name>`` for the task's own numbers (e.g. DANN's domain accuracy). At the
end: the config as hyperparameters with the final metrics (TensorBoard's HPARAMS tab), the plan
as text and the confusion matrix of the best epoch as an image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from headstart.engine.loop import EpochResult
from headstart.engine.tracking import (
    TENSORBOARD_DIR,
    RunInfo,
    epoch_scalars,
    final_metrics,
    flat_params,
)
from headstart.report.plots import confusion_figure


class TensorBoardTracker:
    """Writes a run's events with ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self) -> None:
        self.writer: SummaryWriter | None = None
        self.run: RunInfo | None = None
        self.last: dict[str, Any] | None = None

    def start(self, run: RunInfo) -> None:
        self.run = run
        self.writer = SummaryWriter(log_dir=str(run.run_dir / TENSORBOARD_DIR))
        groups = run.plan.get("groups", [])
        if groups:
            lines = [
                f"| {g.get('name')} | {g.get('lr')} | {g.get('unfreeze_epoch')} |" for g in groups
            ]
            table = "| group | lr | trains from epoch |\n|---|---|---|\n" + "\n".join(lines)
            self.writer.add_text("plan", table, 0)

    def epoch(self, result: EpochResult) -> None:
        assert self.writer is not None and self.run is not None
        for tag, value in epoch_scalars(result, self.run.unit).items():
            self.writer.add_scalar(tag, value, result.epoch)
        self.last = result.row()
        self.writer.flush()

    def finish(self, summary: Mapping[str, Any], files: Sequence[Path]) -> None:
        assert self.writer is not None and self.run is not None
        metrics = {f"hparam/{k}": v for k, v in final_metrics(summary, self.last).items()}
        params = {k: v for k, v in flat_params(self.run.config).items() if k != "extra"}
        # add_hparams would write to a sub-folder of its own; the summaries go in this run's.
        file_writer = self.writer.file_writer
        assert file_writer is not None
        for summ in hparams(params, metrics):
            file_writer.add_summary(summ)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, int(summary.get("epochs", 0)))
        cm = summary.get("confusion_matrix")
        if cm is not None and len(self.run.classes) == len(cm):
            fig = confusion_figure(np.asarray(cm), self.run.classes)
            self.writer.add_figure("confusion_matrix", fig, int(summary.get("epochs", 0)))
        self.writer.flush()

    def close(self, failed: bool = False) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
