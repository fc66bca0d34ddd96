"""``headstart doctor``: check data, backbone and strategy before training."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command, build_config, print_json
from headstart.cli.options import add_dataclass_options
from headstart.cli.train import TRAIN_HELP
from headstart.config import TRAIN_RULES, TrainConfig

OPTIONS = (
    "backbone",
    "weights",
    "strategy",
    "epochs",
    "lr",
    "head_lr",
    "lr_decay",
    "lr_min",
    "weight_decay",
    "train_bn",
    "bn_stats",
    "augment",
    "head_hidden",
    "dropout",
    "class_weights",
    "balanced_sampling",
    "partial_groups",
    "head_epochs",
    "unfreeze_every",
    "seed",
    "val_fraction",
    "classes",
    "device",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "doctor", run_doctor)
    p.add_argument("data", help="folder with train/ and val/ (or class folders)")
    p.add_argument("--config", help="YAML file of train options; flags override it")
    p.add_argument(
        "--checkpoint",
        metavar="RUN_OR_FILE",
        help="run directory or .safetensors checkpoint whose class order the data must match "
        "(its backbone is the default --backbone)",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    helps = {k: v for k, v in TRAIN_HELP.items() if k in OPTIONS}
    add_dataclass_options(p, TrainConfig, helps, rules=TRAIN_RULES)


def run_doctor(args: argparse.Namespace) -> int:
    """check data, backbone and strategy for the mistakes tutorials warn about

    Check a data set with a backbone and strategy before training: normalization and input size
    against the weights, random eval transforms, a frozen head, frozen parameters in the
    optimizer, backbone LR above the head's, batch-norm statistics drifting in frozen parts,
    class order against a checkpoint, train/val class mismatch, too few images per class,
    class imbalance. Prints one line per finding; exit status 1 if any is an error."""
    from headstart.doctor import has_errors
    from headstart.doctor.folder import checkpoint_backbone, diagnose

    fixed = {"data": args.data}
    if args.checkpoint and "backbone" not in vars(args) and not args.config:
        fixed["backbone"] = checkpoint_backbone(args.checkpoint)
    cfg = build_config(TrainConfig, args, **fixed)
    findings = diagnose(args.data, cfg, args.checkpoint)
    errors = sum(f.level == "error" for f in findings)
    if args.json:
        print_json(
            {
                "errors": errors,
                "warnings": len(findings) - errors,
                "findings": [f.to_dict() for f in findings],
            }
        )
    else:
        for f in findings:
            print(f.line())
        print(
            f"{errors} error(s), {len(findings) - errors} warning(s)"
            if findings
            else "no problems found"
        )
    return 1 if has_errors(findings) else 0
