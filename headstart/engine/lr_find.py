"""The learning-rate range test (Smith, 2015; fastai's ``lr_find``) on any task of the loop.

The LR of every parameter group rises together, exponentially, from ``start_lr`` to ``end_lr``
(for the reference group; the others keep their ratio to it, so a plan's discriminative LRs
stay as planned) over ``steps`` training steps. The loss is smoothed (exponential moving
average with bias correction); the test stops when it diverges (the smoothed loss above
``diverge`` times its minimum) and the weights are restored afterwards. Suggestions:

- ``valley`` (fastai's default): the LR a third of the way into the longest stretch
  over which the smoothed loss keeps falling;
- ``steep`` (headstart's default, ``--lr-rule``): the LR where the smoothed loss falls fastest
  (per log LR);
- ``minimum``: a tenth of the LR at the lowest smoothed loss.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import torch

from headstart.engine.loop import (
    LoopConfig,
    adamw,
    seed_everything,
    to_channels_last,
    to_device,
)
from headstart.engine.precision import autocast
from headstart.engine.task import Task
from headstart.errors import HeadstartError

SKIP_END = 5  # the last steps before divergence say nothing about a good LR


@dataclass
class RangeTest:
    """What a range test measured, for the reference group's LR."""

    reference: str  # the parameter group whose LR the suggestions are
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    stopped: str = ""
    base_lrs: dict[str, float] = field(default_factory=dict)  # the plan's LRs, by group

    def suggestions(self) -> dict[str, float]:
        """``valley``, ``steep`` and ``minimum`` (see the module docstring)."""
        lrs, loss = np.asarray(self.lrs), np.asarray(self.smoothed)
        n = max(2, len(loss) - SKIP_END)
        if len(loss) < 3:
            raise HeadstartError(
                f"the LR range test diverged after {len(loss)} steps: start from a lower LR "
                "(--start-lr)"
            )
        lrs, loss = lrs[:n], loss[:n]
        slope = np.diff(loss) / np.diff(np.log(lrs))
        return {
            "valley": float(lrs[valley_index(loss)]),
            "steep": float(lrs[int(np.argmin(slope))]),
            "minimum": float(lrs[int(np.argmin(loss))] / 10),
        }

    def factor(self, rule: str = "steep") -> float:
        """What the plan's LRs are multiplied by for the suggestion of ``rule``."""
        return self.suggestions()[rule] / self.base_lrs[self.reference]


def valley_index(loss: np.ndarray) -> int:
    """fastai's valley rule: in the longest run of steps over which the loss keeps falling
    (longest decreasing subsequence), the point a third plus a sixth of the way in."""
    n = len(loss)
    lds = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if loss[i] < loss[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
        if lds[end] < lds[i]:
            end, start = i, i - lds[i]
    sections = (end - start) / 3
    return min(n - 1, start + int(sections) + int(sections / 2))


def range_test(
    task: Task,
    cfg: LoopConfig,
    epoch: int,
    reference: str,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    beta: float = 0.98,
    diverge: float = 4.0,
) -> RangeTest:
    """Run the range test on ``task``'s phase of ``epoch`` (what trains then, at the plan's
    ratios); the trained module's weights are restored afterwards."""
    if not 0 < start_lr < end_lr or steps < 5:
        raise HeadstartError("the LR range needs 0 < start LR < end LR and at least 5 steps")
    phase = task.phase(epoch)
    opt = adamw(phase.param_groups)
    base = {g["name"]: g["base_lr"] for g in opt.param_groups}
    if reference not in base:
        raise HeadstartError(f"no parameter group '{reference}' trains in this phase")
    saved = copy.deepcopy(phase.module.state_dict())
    result = RangeTest(reference, base_lrs=base)
    seed_everything(cfg.seed)
    task.set_train_mode(epoch)
    scaler = torch.amp.GradScaler(enabled=cfg.dtype == torch.float16)
    avg, best = 0.0, math.inf
    try:
        for i, batch in enumerate(islice(_cycle(phase.train), steps)):
            lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * lr / base[reference]
            loss = _step(task, phase.module, opt, scaler, batch, cfg, phase.channels_last)
            if not math.isfinite(loss):
                result.stopped = f"the loss became {loss} at step {i + 1}"
                break
            avg = beta * avg + (1 - beta) * loss
            smooth = avg / (1 - beta ** (i + 1))
            result.lrs.append(lr)
            result.losses.append(loss)
            result.smoothed.append(smooth)
            best = min(best, smooth)
            if smooth > diverge * best:
                result.stopped = (
                    f"diverged at step {i + 1} (smoothed loss > {diverge:g}x its minimum)"
                )
                break
        else:
            result.stopped = f"reached the end LR after {len(result.lrs)} steps"
    finally:
        phase.module.load_state_dict(saved)
    return result


def _cycle(loader: Any) -> Any:
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise HeadstartError("the training data gave no batch")


def _step(
    task: Task,
    module: torch.nn.Module,
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    batch: Any,
    cfg: LoopConfig,
    channels_last: bool,
) -> float:
    """One training step at the optimizer's current LRs; the loss before the update."""
    batch = to_device(batch, cfg.device)
    batch = to_channels_last(batch) if channels_last else batch
    with autocast(cfg.device, cfg.dtype):
        out = task.step(module, batch)
    loss = float(out.loss.detach().float())
    if math.isfinite(loss):
        opt.zero_grad(set_to_none=True)
        scaler.scale(out.loss).backward()
        scaler.step(opt)
        scaler.update()
    return loss
