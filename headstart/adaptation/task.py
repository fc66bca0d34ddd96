"""Source-only and DANN training as tasks of the engine's loop.

Both methods share everything but the loss: the same model (backbone top + bottleneck MLP
head), source batches in the same order, the same LR schedule and steps. DANN's batches are
``((x_source, x_target), y_source)``: one forward of ``DANNNet`` classifies the source half
and feeds the bottleneck features of both halves to the domain loss, so under torchrun
DistributedDataParallel sees every parameter (the discriminator's too) in one call. Target
images come without labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from headstart.adaptation.config import METHODS
from headstart.adaptation.dann import DomainAdversarialLoss
from headstart.backbones.model import TransferModel
from headstart.engine.loaders import eval_loader, train_loader
from headstart.engine.task import Phase, PlannedTask, StepOutput
from headstart.strategies import Plan

__all__ = ["METHODS", "AdaptInputs", "AdaptModel", "AdaptationTask", "DANNNet", "Tail"]


class Tail(nn.Module):
    """What trains on the loop's inputs: ``encoder`` (the backbone's trainable top, or the whole
    body when nothing is cached) then the head. ``features`` is the head's bottleneck output."""

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head[:-1](self.encoder(x))  # type: ignore[index]

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.head[-1](features)  # type: ignore[index]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class DANNNet(nn.Module):
    """``forward(x, n_source) -> (source logits, domain loss)`` for a batch of source images
    followed by target images: the classifier and the domain loss in one call."""

    def __init__(self, tail: Tail, domain_loss: DomainAdversarialLoss):
        super().__init__()
        self.tail = tail
        self.domain_loss = domain_loss

    def forward(self, x: torch.Tensor, n_source: int) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.tail.features(x)
        f_s, f_t = f[:n_source], f[n_source:]
        return self.tail.classify(f_s), self.domain_loss(f_s, f_t)  # features only: no label


class AdaptModel(TransferModel):
    """The classifier (body + head) and, for DANN, the domain discriminator: every parameter
    the plan names (``body.``, ``head.``, ``discriminator.``)."""

    def __init__(self, body: nn.Module, head: nn.Module, discriminator: nn.Module | None):
        super().__init__(body, head)
        if discriminator is not None:
            self.discriminator = discriminator

    def classifier_state(self) -> dict[str, torch.Tensor]:
        """The state of the image classifier alone (what ``headstart predict`` loads)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("discriminator.")}


@dataclass
class AdaptInputs:
    source_train: Dataset  # (x, label)
    source_val: Dataset  # (x, label)
    target_pool: Dataset  # x only (a placeholder second item at most, never a label)
    batch_size: int
    num_workers: int
    channels_last: bool
    target_eval: Dataset | None = None  # (x, label), monitored after each epoch if given


class PairedBatches:
    """Each source batch with the next target batch (the target loader restarts as needed)."""

    def __init__(self, source: DataLoader, target: DataLoader):
        self.source = source
        self.target = target

    def __len__(self) -> int:
        return len(self.source)

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
        target = iter(self.target)
        for x_s, y_s in self.source:
            try:
                batch = next(target)
            except StopIteration:
                target = iter(self.target)
                batch = next(target)
            x_t = batch[0] if isinstance(batch, list | tuple) else batch
            yield (x_s, x_t), y_s


@dataclass(eq=False)
class AdaptationTask(PlannedTask):
    """A loop task training ``model`` by ``method`` (``source-only`` or ``dann``)."""

    model: AdaptModel
    tail: Tail
    plan: Plan
    inputs: AdaptInputs
    method: str
    seed: int
    epochs: int
    weight_decay: float
    domain_loss: DomainAdversarialLoss | None = None
    domain_weight: float = 1.0

    def __post_init__(self) -> None:
        self.net = DANNNet(self.tail, self.domain_loss) if self.domain_loss is not None else None
        self.criterion = nn.CrossEntropyLoss()
        self.step_index = 0
        self.total_steps = 1

    def _loader(self, ds: Dataset, epoch: int, salt: int) -> DataLoader:
        # Own generators: the source order depends on (seed, epoch) only, identical for both
        # methods whatever else draws random numbers.
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch * 101 + salt)
        inp = self.inputs
        return train_loader(ds, inp.batch_size, generator=gen, num_workers=inp.num_workers)

    def phase(self, epoch: int) -> Phase:
        groups = self.param_groups(epoch)
        inp = self.inputs
        source = self._loader(inp.source_train, epoch, 0)
        val_size = max(64, inp.batch_size)
        val = eval_loader(inp.source_val, val_size, num_workers=inp.num_workers)
        monitor: dict[str, Iterable[Any]] = {}
        if inp.target_eval is not None:  # monitoring only: never used to pick a model
            monitor["target"] = eval_loader(inp.target_eval, 128)
        self.total_steps = self.epochs * len(source)
        self.step_index = epoch * len(source)
        train: Iterable[Any] = source
        module: nn.Module = self.tail
        if self.net is not None:
            train = PairedBatches(source, self._loader(inp.target_pool, epoch, 1))
            module = self.net
        return Phase(
            (self.method,), module, train, val, groups, len(source), inp.channels_last,
            sharded=True, eval_module=self.tail, monitor=monitor,
        )  # fmt: skip

    def _cl(self, x: torch.Tensor) -> torch.Tensor:
        if self.inputs.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def step(self, module: nn.Module, batch: Any) -> StepOutput:
        if self.net is None:
            out = self.classify(module, batch)
            out.logs["class_loss"] = out.loss.item()
            return out
        assert self.domain_loss is not None
        (x_s, x_t), y = batch
        coeff = self.domain_loss.grl.schedule(self.step_index / max(1, self.total_steps))
        self.step_index += 1
        logits, domain = module(self._cl(torch.cat([x_s, x_t])), len(x_s))
        class_loss = self.criterion(logits.float(), y)  # source labels only
        logs = {
            "class_loss": class_loss.item(),
            "domain_loss": domain.item(),
            "domain_acc": self.domain_loss.domain_accuracy,
            "coeff": coeff,
        }
        return StepOutput(class_loss + self.domain_weight * domain, logits, y, logs)
