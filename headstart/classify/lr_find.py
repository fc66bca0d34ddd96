"""``headstart lr-find DATA``: the LR range test on an image run's own plan, and ``--lr find``.

The job is built exactly as ``train`` builds it (``ImageJob``: data, backbone and head, the
plan, cached features for head-only phases); the range test ramps the LRs of what trains in the
plan's last phase together, keeping their ratios. The suggestion is the LR of the plan's
*reference group*: the top backbone group when it trains, else the head. ``train --lr find``
multiplies every LR of the plan by the same factor (so ``--head-lr`` and the layer-wise decay
keep their ratios) and records the test in the run.

>>> found = find_lr("data/fmnist", TrainConfig(strategy="partial"))
>>> found.lr, found.head_lr
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headstart.classify.job import ImageJob, load_image_data
from headstart.config import TrainConfig
from headstart.engine.lr_find import RangeTest, range_test
from headstart.engine.run import dump_config
from headstart.engine.rundir import new_run_dir, write_csv_atomic
from headstart.errors import HeadstartError
from headstart.io import write_json_atomic, write_text_atomic
from headstart.report.plots import plot_lr_find

RULES = ("steep", "valley", "minimum")


@dataclass
class LRFind:
    """A range test and what it suggests for a training config."""

    test: RangeTest
    rule: str
    lr: float  # the top backbone group's LR (the plan's --lr) at the suggestion
    head_lr: float
    run_dir: Path | None = None

    @property
    def suggestion(self) -> float:
        return self.test.suggestions()[self.rule]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "reference_group": self.test.reference,
            "suggestions": self.test.suggestions(),
            "lr": self.lr,
            "head_lr": self.head_lr,
            "stopped": self.test.stopped,
            "steps": len(self.test.lrs),
            "plan_lrs": self.test.base_lrs,
        }

    def write(self, folder: Path) -> None:
        """lr_find.csv, lr_find.json and lr_find.png in ``folder``."""
        t = self.test
        rows = [
            {"step": i + 1, "lr": lr, "loss": loss, "smoothed": sm}
            for i, (lr, loss, sm) in enumerate(zip(t.lrs, t.losses, t.smoothed))
        ]
        write_csv_atomic(folder / "lr_find.csv", rows)
        write_json_atomic(folder / "lr_find.json", self.to_dict())
        plot_lr_find(
            folder / "lr_find.png", t.lrs, t.smoothed, t.suggestions(), self.rule, t.reference
        )


def reference_group(job: ImageJob, epoch: int) -> str:
    """The top backbone group that trains at ``epoch``, else the head."""
    trained = [g for g in job.plan.trainable(epoch)]
    backbone = [g for g in trained if not g.new]
    return backbone[-1].name if backbone else trained[-1].name


def find_lr(
    data: Any, config: TrainConfig, rule: str = "steep", steps: int = 100, **kw: Any
) -> LRFind:
    """Build ``config``'s image job on ``data`` and run the range test on its last phase."""
    if rule not in RULES:
        raise HeadstartError(f"--lr-rule {rule}: choose one of {', '.join(RULES)}")
    cfg = dataclasses.replace(config, lr=None if config.lr == "find" else config.lr)
    job = ImageJob(cfg, load_image_data(cfg, data))
    job.prepare()
    epoch = cfg.epochs - 1  # the phase where the most trains (progressive: everything)
    reference = reference_group(job, epoch)
    with job.training():
        test = range_test(job.make_task(), job.loop_config(), epoch, reference, steps=steps, **kw)
    factor = test.factor(rule)
    lr, head_lr = cfg.resolved_lrs()
    return LRFind(test, rule, lr * factor, head_lr * factor)


def lr_find_run(data: Any, config: TrainConfig, rule: str = "steep", steps: int = 100) -> LRFind:
    """``headstart lr-find``: the test and its files in ``runs/lr-find/NAME/``."""
    found = find_lr(data, config, rule, steps)
    name = config.name or f"{Path(config.data or 'data').name}-{config.strategy.replace(':', '')}"
    found.run_dir = new_run_dir(config.out, "lr-find", name)
    write_text_atomic(found.run_dir / "config.yaml", dump_config(config))
    found.write(found.run_dir)
    return found


def describe(found: LRFind) -> str:
    s = found.test.suggestions()
    lines = [
        f"LR range test of group '{found.test.reference}': {found.test.stopped}",
        "  suggestions: " + ", ".join(f"{k} {v:.2e}" for k, v in s.items()),
        f"  {found.rule}: --lr {found.lr:.2e} --head-lr {found.head_lr:.2e} "
        "(every LR of the plan scaled alike)",
    ]
    if found.run_dir is not None:
        lines.append(f"  plot: {found.run_dir / 'lr_find.png'}")
    return "\n".join(lines)
