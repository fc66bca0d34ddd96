"""``headstart lr-find``: the learning-rate range test on a training set-up."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command, build_config, print_json
from headstart.cli.options import add_checked, add_dataclass_options, add_shared
from headstart.cli.train import TRAIN_HELP
from headstart.config import TRAIN_RULES, TrainConfig
from headstart.options import Number

OPTIONS = (
    "backbone", "weights", "strategy", "epochs", "batch_size", "head_lr", "lr_decay", "lr_min",
    "weight_decay", "train_bn", "bn_stats", "augment", "head_hidden", "dropout",
    "label_smoothing", "class_weights", "balanced_sampling", "partial_groups", "head_epochs",
    "unfreeze_every", "seed", "precision", "val_fraction", "classes", "image_col", "label_col",
    "skip_bad", "num_workers", "cache_dir", "out", "name", "device", "progress",
)  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "lr-find", run_lr_find)
    p.add_argument("data", help="data folder, CSV/JSONL manifest or hf:NAME_OR_DIR")
    add_shared(p, "config")
    p.add_argument(
        "--rule",
        default="steep",
        choices=("steep", "valley", "minimum"),
        help="which suggestion the summary uses (valley is fastai's default, which was 1.6-1.7 "
        "points worse in the README's measurement)",
    )
    add_checked(p, "--steps", Number(low=10, integer=True), default=100, help="steps of the ramp")
    add_shared(p, "json")
    helps = {k: v for k, v in TRAIN_HELP.items() if k in OPTIONS}
    add_dataclass_options(p, TrainConfig, helps, rules=TRAIN_RULES)


def run_lr_find(args: argparse.Namespace) -> int:
    """the LR range test: which learning rate to train with

    Smith's LR range test (as fastai's lr_find) on the set-up train would build: the LRs of what
    trains rise together, exponentially, keeping the plan's ratios; the smoothed loss is
    recorded until it diverges. Prints the suggestions and writes lr_find.png, .csv and .json
    to runs/lr-find/NAME/. `train --lr find` trains with it."""
    from headstart.classify.lr_find import describe, lr_find_run

    cfg = build_config(TrainConfig, args, data=args.data)
    found = lr_find_run(args.data, cfg, args.rule, args.steps)
    if args.json:
        print_json({**found.to_dict(), "run_dir": str(found.run_dir)})
    else:
        print(describe(found))
    return 0
