"""Check that batch-norm layers of frozen parts keep their running statistics in training."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn

from headstart.doctor.finding import Finding, error, names


def frozen_batchnorms(model: nn.Module) -> list[str]:
    """Names of batch-norm layers that track statistics and have no trainable parameter."""
    return [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and m.track_running_stats
        and not any(p.requires_grad for p in m.parameters(recurse=False))
    ]


def check_bn_frozen(
    model: nn.Module,
    train_mode: Callable[[nn.Module], None] | None = None,
    input_size: Sequence[int] = (3, 224, 224),
    when: str = "",
) -> list[Finding]:
    """Put a copy of ``model`` in training mode with ``train_mode`` (default: plain
    ``model.train()``, what tutorials do); if a frozen batch-norm layer is left in training
    mode, run one forward pass on two random images and report the frozen layers whose
    running statistics moved. ``model`` itself is untouched.

    >>> check_bn_frozen(model, lambda m: set_train_mode(m, plan, groups, epoch=0))
    """
    # A copy with its own modules and buffers (the running statistics); the parameters are
    # shared, not cloned: nothing here writes to them, and copying them is most of the cost.
    probe = copy.deepcopy(model, memo={id(p): p for p in model.parameters()})
    frozen = frozen_batchnorms(probe)
    if not frozen:
        return []
    (train_mode or nn.Module.train)(probe)
    modules = dict(probe.named_modules())
    if not any(modules[n].training for n in frozen):
        return []  # batch norm in eval mode never updates its statistics: no pass needed
    before = {n: _stats(modules[n]) for n in frozen}
    param = next(probe.parameters(), None)
    device, dtype = (param.device, param.dtype) if param is not None else ("cpu", torch.float32)
    x = torch.randn(2, *input_size, device=device, dtype=dtype)
    with torch.no_grad():
        probe(x)
    moved = [n for n in frozen if not all(map(torch.equal, before[n], _stats(modules[n])))]
    if not moved:
        return []
    where = f" {when}" if when else ""
    return [
        error(
            "bn-stats-drift",
            f"training mode{where} updates the running statistics of {len(moved)} frozen "
            f"batch-norm layer(s) ({names(moved, 3)}): the frozen layers then normalize with "
            "statistics of small noisy batches instead of those their weights were trained "
            "with; after every model.train(), put frozen BN layers back in eval mode "
            "(headstart.strategies.set_train_mode does)",
        )
    ]


def _stats(m: nn.Module) -> tuple[torch.Tensor, ...]:
    return tuple(
        t.detach().clone()
        for t in (m.running_mean, m.running_var, m.num_batches_tracked)
        if isinstance(t, torch.Tensor)
    )
