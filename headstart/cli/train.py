"""``headstart train``, ``evaluate`` and ``predict``."""

from __future__ import annotations

import argparse
from pathlib import Path

from headstart.cli.common import add_command, build_config, print_json, resume_options
from headstart.cli.options import (
    RUN_HELP,
    add_checked,
    add_checkpoint_options,
    add_dataclass_options,
    add_shared,
)
from headstart.config import TRAIN_RULES, TrainConfig
from headstart.errors import HeadstartError
from headstart.io import check_writable
from headstart.options import POSITIVE_INT

TRAIN_HELP = {
    **RUN_HELP,
    "backbone": "timm model name or torchvision:NAME",
    "strategy": "feature-extraction | linear-probe | partial[:N] | full | progressive[:N] | scratch | auto",
    "batch_size": "images per batch",
    "lr": "LR of the backbone's top layer group (lower groups get less), or find: the LR range "
    "test's suggestion (headstart lr-find), every LR of the plan scaled alike; default 5e-4, "
    "scratch 3e-3",
    "head_lr": "LR of the new head; default 3e-3",
    "lr_rule": "--lr find: which suggestion of the LR range test, steep | valley | minimum",
    "lr_decay": "layer-wise LR decay: each group below the top gets lr x this",
    "lr_min": "geometric spread instead of decay: the bottom group's LR, rising to --lr at the "
    "top (default: off, --lr-decay applies)",
    "weight_decay": "AdamW weight decay (never on biases and norm parameters)",
    "warmup_epochs": "linear LR warmup, in epochs (fractions allowed)",
    "schedule": "cosine | constant (after warmup)",
    "train_bn": "let batch-norm layers of frozen groups train (statistics and affine)",
    "bn_stats": "frozen (BN statistics of pretrained layers stay as pretrained) | adapt",
    "augment": "none | light | standard (random resized crop; standard adds horizontal flip)",
    "head_hidden": "hidden units of an MLP head (0: linear head)",
    "dropout": "dropout before the head's last layer",
    "label_smoothing": "label smoothing of the cross-entropy loss",
    "class_weights": "weight the loss by inverse class frequency",
    "balanced_sampling": "sample classes equally often",
    "partial_groups": "partial: how many top layer groups train",
    "head_epochs": "progressive: head-only epochs before the first unfreeze",
    "unfreeze_every": "progressive: epochs between two unfreezes",
    "patience": "early stopping after this many epochs without a better val accuracy (0: off)",
    "precision": "auto | bf16 | fp16 | fp32 (fp32 is the reference)",
    "val_fraction": "val share when the data folder has no val/ split",
    "classes": "train on a subset of classes",
    "skip_bad": "skip undecodable images (listed in the run directory) instead of failing",
    "strict": "turn the pre-training checks' warnings into errors",
    "num_workers": "data-loading workers (-1: decide from the machine)",
    "cache_dir": "where features are cached (default ~/.cache/headstart)",
    "report": "write plots and report.html at the end (--no-report for fast sweeps)",
    "image_col": "hf: data sets: the image column (default: the first Image column)",
    "label_col": "hf: data sets: the label column (default: the first ClassLabel column)",
}

TTA_HELP = (
    "test-time augmentation: average the logits of the image, its mirror image and two 90%% "
    "crops (4x the compute)"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "train", run_train)
    p.add_argument(
        "data",
        nargs="?",
        help="folder with train/ and val/ (or class folders), a CSV/JSONL manifest of "
        "path,label rows, or hf:NAME_OR_DIR (a Hugging Face data set)",
    )
    add_shared(p, "config", "resume")
    add_dataclass_options(p, TrainConfig, TRAIN_HELP, rules=TRAIN_RULES)

    e = add_command(sub, "evaluate", run_evaluate)
    e.add_argument("checkpoint", help="run directory or .safetensors checkpoint")
    e.add_argument("data", help="folder with class folders (its test/ or val/ split if present)")
    e.add_argument("--split", choices=("train", "val", "test"), help="which split of DATA")
    add_checkpoint_options(e)
    e.add_argument("--tta", action="store_true", help=TTA_HELP)

    r = add_command(sub, "predict", run_predict)
    r.add_argument("checkpoint", help="run directory or .safetensors checkpoint")
    r.add_argument("images", nargs="+", help="image files or folders")
    add_checked(r, "--top-k", POSITIVE_INT, default=3, help="classes per image")
    add_checkpoint_options(r)
    r.add_argument("--tta", action="store_true", help=TTA_HELP)


def run_train(args: argparse.Namespace) -> int:
    """train an image classifier with a transfer strategy

    Adapt a pretrained backbone to an ImageFolder data set."""
    from headstart.classify.fit import fit

    if args.resume:
        fit(resume=check_writable(args.resume, "--resume"), **resume_options(args))
        return 0
    if not args.data and not args.config:
        raise HeadstartError("give a DATA folder (or --config with data:)")
    cfg = build_config(TrainConfig, args, **({"data": args.data} if args.data else {}))
    check_writable(cfg.out, "--out")
    fit(config=cfg)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """evaluate a checkpoint on labelled images"""
    from headstart.classify.checkpoint import Checkpoint

    ckpt = Checkpoint.load(args.checkpoint, args.which, args.device, args.precision)
    ev = ckpt.evaluate(Path(args.data), args.split, tta=args.tta)
    if args.json:
        print_json(
            {
                "accuracy": ev.accuracy,
                "macro_f1": ev.macro_f1,
                "n": ev.n,
                "per_class": ev.per_class,
                "confusion_matrix": ev.confusion.tolist(),
                "classes": list(ev.classes),
            }
        )
        return 0
    print(f"{ev.n} images  accuracy {ev.accuracy:.4f}  macro-F1 {ev.macro_f1:.4f}")
    print(f"{'class':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for row in ev.per_class:
        print(
            f"{row['class']:<20} {row['precision']:>9.3f} {row['recall']:>7.3f} "
            f"{row['f1']:>6.3f} {row['support']:>8}"
        )
    print("confusion matrix (rows true, columns predicted):")
    width = max(5, max(len(str(v)) for v in ev.confusion.flat) + 1)
    for c, row in zip(ev.classes, ev.confusion):
        print(f"{c[:18]:<20}" + "".join(f"{v:>{width}}" for v in row))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """predict classes of images with a checkpoint"""
    from headstart.classify.checkpoint import Checkpoint

    ckpt = Checkpoint.load(args.checkpoint, args.which, args.device, args.precision)
    preds = ckpt.predict(args.images, args.top_k, tta=args.tta)
    if args.json:
        print_json([p.to_dict() for p in preds])
        return 0
    for p in preds:
        print(f"{p.path}: " + ", ".join(f"{c} {prob:.3f}" for c, prob in p.top))
    return 0
