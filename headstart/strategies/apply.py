"""Applying a plan to a model: requires_grad, batch-norm modes and optimizer parameter groups."""

from __future__ import annotations

from typing import Any

from torch import nn

from headstart.backbones.model import TransferModel
from headstart.strategies.plan import Plan

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def group_of_param(
    model: TransferModel, plan: Plan, groups: list[tuple[str, ...]]
) -> dict[str, int]:
    """Map every parameter name of ``model`` to its plan group index (head = last)."""
    owner: dict[str, int] = {}
    for gi, names in enumerate(groups):
        for n in names:
            owner[f"body.{n}"] = gi
    head_index = len(plan.groups) - 1
    for n, _ in model.head.named_parameters():
        owner[f"head.{n}"] = head_index
    return owner


def _norm_param_names(model: nn.Module) -> set[str]:
    names: set[str] = set()
    for mname, module in model.named_modules():
        if isinstance(module, _NORMS):
            names.update(f"{mname}.{p}" for p, _ in module.named_parameters(recurse=False))
    return names


def apply_plan(model: TransferModel, plan: Plan, groups: list[tuple[str, ...]], epoch: int) -> None:
    """Set ``requires_grad`` for ``epoch``: trainable groups (and, with train_bn, all norms)."""
    owner = group_of_param(model, plan, groups)
    norms = _norm_param_names(model) if plan.train_bn else set()
    for name, p in model.named_parameters():
        gi = owner.get(name)
        trains = gi is not None and plan.groups[gi].trains_at(epoch)
        p.requires_grad_(trains or name in norms)


def set_train_mode(
    model: TransferModel, plan: Plan, groups: list[tuple[str, ...]], epoch: int
) -> None:
    """``model.train()``, then batch-norm layers back to eval mode where the plan says so.

    Frozen BN layers must keep their running statistics (what ``model.train()`` alone would
    silently update), unless the plan says ``train_bn``. With ``bn_stats == "frozen"`` the
    BN layers of training groups keep them too (their affine parameters still train).
    """
    model.train()
    if plan.train_bn:
        return
    owner = group_of_param(model, plan, groups)
    for mname, module in model.named_modules():
        if not isinstance(module, nn.modules.batchnorm._BatchNorm):
            continue
        if plan.bn_stats == "frozen" and not mname.startswith("head"):
            module.eval()
            continue
        pnames = [f"{mname}.{p}" for p, _ in module.named_parameters(recurse=False)]
        gis = {owner.get(n) for n in pnames}
        if not pnames or not any(gi is not None and plan.groups[gi].trains_at(epoch) for gi in gis):
            module.eval()


def build_param_groups(
    model: TransferModel,
    plan: Plan,
    groups: list[tuple[str, ...]],
    epoch: int,
    weight_decay: float,
) -> list[dict[str, Any]]:
    """Optimizer groups for ``epoch``: only trainable parameters, each in exactly one group.

    Every plan group becomes up to two optimizer groups at the plan's absolute LR: weights
    with ``weight_decay`` and biases / norm parameters without.
    """
    owner = group_of_param(model, plan, groups)
    norms = _norm_param_names(model)
    buckets: dict[tuple[int, bool], list[tuple[str, nn.Parameter]]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        gi = owner[name]
        no_decay = p.ndim <= 1 or name in norms
        buckets.setdefault((gi, no_decay), []).append((name, p))
    out = []
    for (gi, no_decay), items in sorted(buckets.items()):
        g = plan.groups[gi]
        out.append(
            {
                "name": f"{g.name}{' (no decay)' if no_decay else ''}",
                "params": [p for _, p in items],
                "param_names": [n for n, _ in items],
                "lr": g.lr,
                "base_lr": g.lr,
                "weight_decay": 0.0 if no_decay else weight_decay,
            }
        )
    return out
