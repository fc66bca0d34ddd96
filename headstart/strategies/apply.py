"""Applying a plan to a model: requires_grad, batch-norm modes and optimizer parameter groups.

The plan's groups name their parameters as the model names them (``model.named_parameters``),
so one set of functions serves every task: an image ``TransferModel``, a text classifier with
or without a PEFT adapter, a DANN model with its discriminator.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from headstart.strategies.plan import Plan

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def group_of_param(plan: Plan) -> dict[str, int]:
    """Map every parameter name of the plan to its group index."""
    return {name: gi for gi, g in enumerate(plan.groups) for name in g.params}


def _norm_param_names(model: nn.Module) -> set[str]:
    names: set[str] = set()
    for mname, module in model.named_modules():
        if isinstance(module, _NORMS):
            names.update(f"{mname}.{p}" for p, _ in module.named_parameters(recurse=False))
    return names


def apply_plan(model: nn.Module, plan: Plan, epoch: int) -> None:
    """Set ``requires_grad`` for ``epoch``: parameters of training groups, and the norm
    parameters of groups whose batch-norm mode is ``train``. Parameters outside the plan
    stay frozen."""
    owner = group_of_param(plan)
    norms = _norm_param_names(model) if plan.train_bn else set()
    for name, p in model.named_parameters():
        gi = owner.get(name)
        group = plan.groups[gi] if gi is not None else None
        trains = group is not None and group.trains_at(epoch)
        p.requires_grad_(trains or (group is not None and group.bn == "train" and name in norms))


def set_train_mode(model: nn.Module, plan: Plan, epoch: int) -> None:
    """``model.train()``, then batch-norm layers back to eval mode where the plan says so.

    A BN layer takes the mode of the group owning its parameters: ``train`` always trains,
    ``adapt`` while the group trains, ``frozen`` never (what ``model.train()`` alone would
    silently undo). BN layers without parameters train only with ``--train-bn``.
    """
    model.train()
    owner = group_of_param(plan)
    for mname, module in model.named_modules():
        if not isinstance(module, nn.modules.batchnorm._BatchNorm):
            continue
        pnames = [f"{mname}.{p}" for p, _ in module.named_parameters(recurse=False)]
        groups = [plan.groups[owner[n]] for n in pnames if n in owner]
        if not groups:
            module.train(plan.train_bn)
            continue
        module.train(
            any(g.bn == "train" or (g.bn == "adapt" and g.trains_at(epoch)) for g in groups)
        )


def build_param_groups(
    model: nn.Module, plan: Plan, epoch: int, weight_decay: float
) -> list[dict[str, Any]]:
    """Optimizer groups for ``epoch``: only trainable parameters, each in exactly one group.

    Every plan group becomes up to two optimizer groups at the plan's absolute LR: weights
    with ``weight_decay`` and biases / norm parameters without.
    """
    owner = group_of_param(plan)
    norms = _norm_param_names(model)
    buckets: dict[tuple[int, bool], list[tuple[str, nn.Parameter]]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name not in owner:
            raise ValueError(f"parameter {name} trains but belongs to no group of the plan")
        no_decay = p.ndim <= 1 or name in norms
        buckets.setdefault((owner[name], no_decay), []).append((name, p))
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
