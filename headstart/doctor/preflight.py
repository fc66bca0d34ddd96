"""The checks ``train`` runs first: headstart's own set-up for a run, epoch by epoch."""

from __future__ import annotations

import copy
from typing import Any

from headstart.backbones.model import TransferModel
from headstart.data.imagedata import ImageData
from headstart.data.transforms import eval_transform, train_transform
from headstart.doctor.checks import run_checks
from headstart.doctor.finding import Finding, unique, warning
from headstart.doctor.preprocessing import Transform
from headstart.strategies import (
    Plan,
    apply_plan,
    build_param_groups,
    parse_strategy,
    set_train_mode,
)


def preflight(
    data: ImageData,
    train_tf: Transform,
    eval_tf: Transform,
    data_config: dict[str, Any],
    model: TransferModel,
    plan: Plan,
    weight_decay: float = 0.0,
    balanced: bool = False,
    backbone: str = "",
) -> list[Finding]:
    """Check a run before it trains: data, transforms, and, at the start and at every unfreeze
    milestone of ``plan``, what trains, the optimizer groups and batch-norm modes exactly as
    the training task builds them. Works on a copy of ``model``."""
    out = run_checks(
        data_config=data_config,
        eval_transform=eval_tf,
        train_transform=train_tf,
        train_counts=data.counts("train"),
        val_counts=data.counts("val"),
        balanced=balanced,
        backbone=backbone,
    )
    work = copy.deepcopy(model)
    milestones = plan.milestones()
    for epoch in [0, *milestones]:
        apply_plan(work, plan, epoch)

        def train_mode(m: Any, epoch: int = epoch) -> None:
            set_train_mode(m, plan, epoch)

        out += run_checks(
            data_config=data_config,
            model=work,
            head=work.head,
            optimizer=build_param_groups(work, plan, epoch, weight_decay),
            train_mode=train_mode,
            pretrained=plan.pretrained,
            when=f"from epoch {epoch + 1}" if milestones else "",
        )
    return unique(out)


def check_training_setup(trainer: Any) -> list[Finding]:
    """``preflight`` for a prepared ``headstart.classify.fit.ImageJob`` (its ``cfg``, ``data``,
    ``backbone``, ``model`` and ``plan``), with the transforms it trains with."""
    cfg, bb = trainer.cfg, trainer.backbone
    return check_weights(cfg.weights, cfg.strategy) + preflight(
        trainer.data,
        train_transform(bb.data_config, cfg.augment),
        eval_transform(bb.data_config),
        bb.data_config,
        trainer.model,
        trainer.plan,
        cfg.weight_decay,
        balanced=cfg.balanced_sampling or cfg.class_weights,
        backbone=bb.name,
    )


def check_weights(weights: str, strategy: str) -> list[Finding]:
    """``--weights random`` with a strategy that transfers: there is nothing to transfer."""
    if weights != "random" or not parse_strategy(strategy).pretrained:
        return []
    return [
        warning(
            "random-weights",
            f"--weights random with --strategy {strategy}: the backbone starts from random "
            "weights, so nothing pretrained is transferred (its batch-norm statistics are "
            "re-estimated where it trains; frozen layers keep random features); use "
            "--strategy scratch for the from-scratch baseline, or pretrained weights",
        )
    ]
