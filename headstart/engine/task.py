"""What a task gives the one training loop: phases, and a step from a batch to a loss.

A *phase* is what trains during an epoch (for image classification either the head alone on
cached features, or the whole model on images) with its loaders and optimizer groups. A
*step* turns one batch into a ``StepOutput``: the loss to minimise, the logits and targets the
loop scores (accuracy), and ``logs``, any other per-step numbers the task wants averaged over
the epoch and recorded (e.g. DANN's domain loss and discriminator accuracy).

The step calls ``module`` (the phase's module, or its DistributedDataParallel wrapper under
torchrun) exactly once: gradients are then synchronised however the task computes its loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from headstart.strategies.apply import apply_plan, build_param_groups, set_train_mode
from headstart.strategies.plan import Plan


@dataclass
class StepOutput:
    loss: torch.Tensor
    logits: torch.Tensor
    targets: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


@dataclass
class Phase:
    key: Any  # epochs whose phases have equal keys share one optimizer
    module: nn.Module  # what trains; wrapped in DDP under torchrun
    train: Iterable[Any]
    val: Iterable[Any]
    param_groups: list[dict[str, Any]]
    steps: int  # batches per training epoch
    channels_last: bool = False
    # True when ``train`` yields this process's share of each batch (``ShardedSampler``) and
    # ``val`` its share of the evaluation set (``OrderedShard``): needed to train in many processes.
    sharded: bool = False
    eval_module: nn.Module | None = None  # what validation runs; None: ``module``
    # The data set index of each validation example in the order ``val`` yields them (e.g.
    # shortest texts first); the loop puts outputs back in data set order. None: in order.
    val_order: list[int] | None = None
    # Other labelled sets scored after every epoch, for monitoring only (never used to pick a
    # model): their accuracy is logged as ``<name>_acc``.
    monitor: dict[str, Iterable[Any]] = field(default_factory=dict)
    # True when batch-norm statistics train in this phase: after the steps, they are
    # re-estimated on ``train``'s ``(images, labels)`` batches with the final weights.
    precise_bn: bool = False


class Task(Protocol):
    def phase(self, epoch: int) -> Phase: ...

    def set_train_mode(self, epoch: int) -> None: ...

    def step(self, module: nn.Module, batch: Any) -> StepOutput:
        """Forward one training batch through ``module`` (once) and compute the loss."""
        ...

    def eval_step(self, module: nn.Module, batch: Any) -> StepOutput:
        """The same for a validation batch (no gradients are taken)."""
        ...


class ClassifierTask:
    """The step of a plain classifier: ``criterion(module(x), y)`` on ``(x, y)`` batches."""

    criterion: nn.Module

    def classify(self, module: nn.Module, batch: Any) -> StepOutput:
        x, y = batch
        logits = module(x)
        return StepOutput(self.criterion(logits.float(), y), logits, y)

    def step(self, module: nn.Module, batch: Any) -> StepOutput:
        return self.classify(module, batch)

    def eval_step(self, module: nn.Module, batch: Any) -> StepOutput:
        return self.classify(module, batch)


class PlannedTask(ClassifierTask):
    """A classifier ``model`` that trains as its ``plan`` says (which groups, from which epoch,
    at which LR, batch norm in which mode): the image, text and adaptation tasks."""

    model: nn.Module
    plan: Plan
    weight_decay: float

    def param_groups(self, epoch: int) -> list[dict[str, Any]]:
        """Set what trains in ``epoch`` (``requires_grad``) and return its optimizer groups."""
        apply_plan(self.model, self.plan, epoch)
        return build_param_groups(self.model, self.plan, epoch, self.weight_decay)

    def set_train_mode(self, epoch: int) -> None:
        set_train_mode(self.model, self.plan, epoch)
