"""``run_checks``: every check whose inputs are given, for any set-up, headstart's or hand-built.

>>> from headstart.doctor import run_checks
>>> findings = run_checks(data_config=backbone.data_config, eval_transform=my_val_tf,
...                       model=model, head=model.fc, optimizer=opt)
>>> for f in findings: print(f.line())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from headstart.doctor.batchnorm import check_bn_frozen
from headstart.doctor.dataset import (
    check_class_counts,
    check_class_order,
    check_imbalance,
    check_split_classes,
)
from headstart.doctor.finding import Finding, unique
from headstart.doctor.optimization import (
    ParamGroups,
    check_backbone_lr,
    check_head_trainable,
    check_optimizer_params,
)
from headstart.doctor.preprocessing import (
    Transform,
    check_eval_deterministic,
    check_input_size,
    check_normalization,
)


def run_checks(
    *,
    data_config: dict[str, Any] | None = None,
    eval_transform: Transform | None = None,
    train_transform: Transform | None = None,
    model: nn.Module | None = None,
    head: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | ParamGroups | None = None,
    train_mode: Callable[[nn.Module], None] | None = None,
    pretrained: bool = True,
    train_counts: Mapping[str, int] | None = None,
    val_counts: Mapping[str, int] | None = None,
    checkpoint_classes: Sequence[str] | None = None,
    balanced: bool = False,
    backbone: str = "",
    when: str = "",
) -> list[Finding]:
    """Run the checks that the given inputs allow; errors first.

    - ``data_config`` (the weights' mean/std/input size, ``Backbone.data_config``) with
      ``eval_transform`` / ``train_transform``: normalization, input size, and no random step in
      the eval transform (which needs no ``data_config``);
    - ``head`` (default ``model.head`` when there is one): it must train;
    - ``optimizer`` (or its list of param-group dicts): only trainable parameters, all of them
      when ``model`` is given, and the backbone at a lower LR than the head (if ``pretrained``);
    - ``model``: frozen batch-norm layers keep their statistics after ``train_mode`` (default
      ``model.train()``), checked on a copy;
    - ``train_counts`` / ``val_counts`` (images per class): class sizes, imbalance (unless
      ``balanced``), classes that differ between the splits, and the class order of
      ``checkpoint_classes`` against ``train_counts``' keys (in label order).
    """
    out: list[Finding] = []
    if data_config is not None:
        for which, tf in (("eval", eval_transform), ("train", train_transform)):
            if tf is not None:
                out += check_normalization(tf, data_config, which, backbone)
                out += check_input_size(tf, data_config, which, backbone)
    if eval_transform is not None:
        out += check_eval_deterministic(eval_transform)
    head = head if head is not None else _head_of(model)
    if head is not None:
        out += check_head_trainable(head)
    if optimizer is not None:
        out += check_optimizer_params(optimizer, model)
        if head is not None:
            out += check_backbone_lr(optimizer, head.parameters(), pretrained)
    if model is not None:
        size = tuple(data_config["input_size"]) if data_config else (3, 224, 224)
        out += check_bn_frozen(model, train_mode, size, when)
    out += _data_checks(train_counts, val_counts, checkpoint_classes, balanced)
    return unique(out)


def _data_checks(
    train_counts: Mapping[str, int] | None,
    val_counts: Mapping[str, int] | None,
    checkpoint_classes: Sequence[str] | None,
    balanced: bool,
) -> list[Finding]:
    out: list[Finding] = []
    if train_counts is not None:
        out += check_class_counts(train_counts, "train")
        out += check_imbalance(train_counts, addressed=balanced)
        if checkpoint_classes is not None:
            out += check_class_order(list(train_counts), checkpoint_classes)
    if train_counts is not None and val_counts is not None:
        out += check_split_classes(
            [c for c, n in train_counts.items() if n > 0],
            [c for c, n in val_counts.items() if n > 0],
        )
    return out


def _head_of(model: nn.Module | None) -> nn.Module | None:
    if model is None:
        return None
    head = getattr(model, "head", None)
    if isinstance(head, nn.Module):
        return head
    get = getattr(model, "get_classifier", None)  # timm models name their classifier
    found = get() if callable(get) else None
    return found if isinstance(found, nn.Module) else None
