"""``headstart compare`` and ``headstart recommend``."""

from __future__ import annotations

import argparse
import json

from headstart.cli.common import add_command, build_config
from headstart.cli.options import add_checked, add_dataclass_options, add_shared
from headstart.cli.train import TRAIN_HELP
from headstart.config import COMPARE_RULES, TRAIN_RULES, TrainConfig
from headstart.io import check_writable
from headstart.options import POSITIVE_INT

# --seed is left out: compare takes --seeds (and argparse reads "--seed 1" as "--seeds 1")
SHARED = {k: v for k, v in TRAIN_HELP.items() if k not in ("strategy", "name", "resume", "seed")}


def register(sub: argparse._SubParsersAction) -> None:
    c = add_command(sub, "compare", run_compare)
    c.add_argument("data", help="folder with train/ and val/ (or class folders)")
    add_checked(
        c,
        "--strategies",
        COMPARE_RULES["strategies"],
        default=["scratch", "feature-extraction", "partial", "full", "progressive", "auto"],
        help="comma-separated subset (default: all six)",
    )
    add_checked(
        c,
        "--seeds",
        COMPARE_RULES["seeds"],
        default=[0],
        help="comma-separated seeds; 0,1,2 gives mean ± std (default: 0)",
    )
    add_checked(
        c,
        "--budget",
        COMPARE_RULES["budget"],
        help="wall-time cap per strategy run, in seconds",
    )
    c.add_argument("--config", help="YAML file of training options; flags override it")
    c.add_argument("--name", help="name of the compare run directory")
    add_dataclass_options(c, TrainConfig, SHARED, rules=TRAIN_RULES)

    r = add_command(sub, "recommend", run_recommend)
    r.add_argument("data", help="folder with train/ and val/ (or class folders)")
    r.add_argument("--backbone", default="tf_efficientnet_lite0")
    r.add_argument("--weights", default="pretrained")
    add_checked(r, "--epochs", POSITIVE_INT, help="fix the number of epochs")
    add_shared(r, "json")


def run_compare(args: argparse.Namespace) -> int:
    """train every strategy with matched budgets: the transfer gap

    Train scratch, feature extraction, partial, full, progressive and auto on the same data with
    the same epochs and seeds; print the table and write report.html."""
    from headstart.compare import compare
    from headstart.compare.report import explain, text_table

    cfg = build_config(TrainConfig, args, data=args.data)
    check_writable(cfg.out, "--out")
    result = compare(args.data, args.strategies, args.seeds, args.budget, cfg, name=args.name)
    print("\n" + text_table(result) + "\n")
    for line in explain(result):
        print(f"- {line}")
    print(f"\nreport: {result.run_dir / 'report.html'}")
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    """measure the data and propose a strategy with reasons"""
    from headstart.recommend import recommend

    rec = recommend(args.data, backbone=args.backbone, weights=args.weights, epochs=args.epochs)
    if args.json:
        print(json.dumps(rec.to_dict(), indent=2))
        return 0
    print(f"strategy: {rec.strategy}  (epochs {rec.epochs})")
    for reason in rec.reasons:
        print(f"  because {reason}")
    print("measurements:")
    for k, v in rec.measurements.items():
        print(f"  {k}: {v}")
    print(f"run it: {rec.command(args.data)}")
    return 0
