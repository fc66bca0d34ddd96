"""Checks of what trains: the new head, the optimizer's parameters and their learning rates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from headstart.doctor.finding import Finding, error, names, warning

ParamGroups = Sequence[dict[str, Any]]


def param_groups(optimizer: torch.optim.Optimizer | ParamGroups) -> list[dict[str, Any]]:
    """The parameter groups of an optimizer, or the list of group dicts given to one."""
    groups: Iterable[Any] = (
        optimizer.param_groups if isinstance(optimizer, torch.optim.Optimizer) else optimizer
    )
    return [g if isinstance(g, dict) else {"params": list(g)} for g in groups]


def check_head_trainable(head: nn.Module) -> list[Finding]:
    """At least one parameter of the new head must train, or the classifier stays random."""
    params = list(head.parameters())
    if params and any(p.requires_grad for p in params):
        return []
    why = "has no parameters" if not params else f"has all {len(params)} parameters frozen"
    return [
        error(
            "head-frozen",
            f"the new head {why}: the classifier stays at its random init; freeze the backbone "
            "before replacing the head (or set requires_grad=True on the head's parameters)",
        )
    ]


def check_optimizer_params(
    optimizer: torch.optim.Optimizer | ParamGroups, model: nn.Module | None = None
) -> list[Finding]:
    """The optimizer must get exactly the trainable parameters: no frozen ones (stale gradients
    and weight decay can still move them, and they blur which groups train), and, when
    ``model`` is given, no trainable parameter left out (e.g. unfrozen without rebuilding)."""
    label = _labeller(model)
    given: dict[int, nn.Parameter] = {}
    for group in param_groups(optimizer):
        for p in group["params"]:
            given[id(p)] = p
    frozen = [label(p) for p in given.values() if not p.requires_grad]
    out = []
    if frozen:
        out.append(
            warning(
                "frozen-in-optimizer",
                f"the optimizer holds {len(frozen)} frozen parameter(s) ({names(frozen, 3)}): "
                "give it only trainable ones, e.g. AdamW(p for p in model.parameters() if "
                "p.requires_grad), and rebuild it whenever the frozen set changes",
            )
        )
    if model is not None:
        missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in given]
        if missing:
            out.append(
                warning(
                    "trainable-not-in-optimizer",
                    f"{len(missing)} trainable parameter(s) are not in the optimizer "
                    f"({names(missing, 3)}), so they never update; rebuild the optimizer after "
                    "unfreezing",
                )
            )
    return out


def check_backbone_lr(
    optimizer: torch.optim.Optimizer | ParamGroups,
    head_params: Iterable[nn.Parameter],
    pretrained: bool = True,
) -> list[Finding]:
    """Pretrained backbone groups should train at a lower LR than the new head.

    A group holding a head parameter counts as the head's; a group of trainable backbone
    parameters only, as the backbone's. Random-init models (``scratch``) are not checked.
    """
    if not pretrained:
        return []
    head_ids = {id(p) for p in head_params}
    groups = param_groups(optimizer)
    head_lrs = [g["lr"] for g in groups if any(id(p) in head_ids for p in g["params"])]
    if not head_lrs:
        return []
    head_lr = max(head_lrs)
    too_high = [
        (g.get("name") or f"group {i}", g["lr"])
        for i, g in enumerate(groups)
        if not any(id(p) in head_ids for p in g["params"])
        and any(p.requires_grad for p in g["params"])
        and g["lr"] > head_lr
    ]
    if not too_high:
        return []
    worst_name, worst = max(too_high, key=lambda t: t[1])
    return [
        warning(
            "backbone-lr",
            f"{len(too_high)} pretrained backbone parameter group(s) train at a higher LR than "
            f"the new head (up to {worst:.2g} in '{worst_name}'; head {head_lr:.2g}): large "
            "steps erase pretrained features while the head is still random; give the backbone "
            f"a lower LR than the head, e.g. {head_lr / 6:.1g} (headstart: --lr below --head-lr)",
        )
    ]


def _labeller(model: nn.Module | None):  # noqa: ANN202
    ids = {id(p): n for n, p in model.named_parameters()} if model is not None else {}

    def label(p: nn.Parameter) -> str:
        return ids.get(id(p), f"tensor of shape {tuple(p.shape)}")

    return label
