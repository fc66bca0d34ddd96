"""``headstart adapt``: source-only vs DANN from a labelled source to an unlabelled target."""

from __future__ import annotations

import argparse

from headstart.adaptation.config import ADAPT_RULES, AdaptConfig
from headstart.cli.common import add_command, build_config, resume_options
from headstart.cli.options import RUN_HELP, add_dataclass_options, add_shared
from headstart.errors import HeadstartError
from headstart.io import check_writable

ADAPT_HELP = {
    **RUN_HELP,
    "source": "labelled source data: train/ and val/ class folders, or class folders (split)",
    "target": "target images: a folder (flat or nested), or class folders / train/ val/ whose "
    "labels are used only to score",
    "target_val": "labelled target images to score on (class folders named like the source's)",
    "backbone": "timm model name or torchvision:NAME",
    "train_groups": "top layer groups of the backbone that train (0: backbone frozen, the "
    "bottleneck adapts); the frozen rest runs once per image and is cached",
    "epochs": "epochs per model",
    "batch_size": "source images per step (DANN adds as many target images)",
    "lr": "LR of the top backbone group (lower groups get lr x lr-decay^k); adversarial "
    "training of pretrained layers needs a low one",
    "head_lr": "LR of the bottleneck, the classifier and the domain discriminator",
    "lr_decay": "layer-wise LR decay below the top group",
    "weight_decay": "AdamW weight decay (never on biases and norm parameters)",
    "warmup_epochs": "linear LR warmup, in epochs",
    "schedule": "cosine | constant (after warmup)",
    "bottleneck": "width of the bottleneck layer the classifier and discriminator read",
    "dropout": "dropout after the bottleneck",
    "disc_hidden": "hidden units of the domain discriminator",
    "disc_layers": "hidden layers of the domain discriminator",
    "disc_dropout": "dropout after each hidden layer of the domain discriminator",
    "methods": "which models to train: source-only, dann or both",
    "domain_weight": "weight of the domain loss next to the classification loss",
    "gamma": "speed of the gradient-reversal schedule 2/(1+exp(-gamma p))-1, p = progress",
    "coeff_max": "final gradient-reversal coefficient (the schedule's ceiling)",
    "seeds": "seeds; each trains one source-only and one DANN model",
    "val_fraction": "source val share when the source has no val/ split",
    "monitor_target": "score the target every epoch (monitoring only; no model selection)",
    "map_method": "tsne | pca, for the 2-D map of the embeddings",
    "map_points": "points per domain in the map",
    "precision": "auto | bf16 | fp16 | fp32",
    "num_workers": "data-loading workers (-1: decide from the machine)",
    "cache_dir": "where frozen-prefix activations are cached (default ~/.cache/headstart)",
    "out": "folder for run directories (the run goes to OUT/adapt/NAME)",
    "name": "run name (default: SOURCE-to-TARGET)",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "adapt", run_adapt)
    add_shared(
        p,
        "config",
        "resume",
        resume="continue the adaptation run in RUN_DIR: models that finished are kept, the "
        "others continue from their last checkpoint",
    )
    add_dataclass_options(p, AdaptConfig, ADAPT_HELP, rules=ADAPT_RULES)


def run_adapt(args: argparse.Namespace) -> int:
    """domain adaptation (DANN) vs a source-only model, same budget

    Train a source-only model and a DANN model (gradient reversal with the scheduled coefficient,
    a domain discriminator) on a labelled source and unlabelled target images; report target
    accuracy of both, the domain gap before and after, and 2-D maps of both domains."""
    from headstart.adaptation.adapt import adapt

    if args.resume:
        options = resume_options(args)
        adapt(resume=args.resume, **{k: v for k, v in options.items() if k == "progress"})
        return 0
    cfg = build_config(AdaptConfig, args)
    if not cfg.source or not cfg.target:
        raise HeadstartError("give --source SRC_DIR and --target TGT_DIR")
    check_writable(cfg.out, "--out")
    adapt(cfg)
    return 0
