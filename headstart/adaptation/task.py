"""Source-only and DANN training as tasks of the engine's loop.

Both methods share everything but the loss: the same model (backbone top + bottleneck MLP
head), source batches in the same order, the same LR schedule and steps. DANN's batches are
``((x_source, x_target), y_source)``: its step classifies the source half and feeds the
bottleneck features of both halves to the domain loss. Target images come without labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from headstart.adaptation.dann import DomainAdversarialLoss
from headstart.backbones.model import TransferModel
from headstart.engine.loop import Phase
from headstart.strategies import Plan, apply_plan, build_param_groups, set_train_mode

METHODS = ("source-only", "dann")
Step = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (loss, logits, labels)


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


@dataclass
class AdaptInputs:
    source_train: Dataset  # (x, label)
    source_val: Dataset  # (x, label)
    target_pool: Dataset  # x only (a placeholder second item at most, never a label)
    batch_size: int
    num_workers: int
    channels_last: bool


class SourceBatches:
    """A loader's batches, iterated lazily: progress bars that call ``iter()`` up front (tqdm's
    asyncio wrapper does) then draw no random numbers, so both methods get the same order."""

    def __init__(self, source: DataLoader):
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield from self.source


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


class AdaptationTask:
    """A loop task training ``model`` by ``method`` (``source-only`` or ``dann``)."""

    def __init__(
        self,
        model: TransferModel,
        tail: Tail,
        plan: Plan,
        groups: list[tuple[str, ...]],
        inputs: AdaptInputs,
        method: str,
        seed: int,
        epochs: int,
        weight_decay: float,
        domain_loss: DomainAdversarialLoss | None = None,
        domain_weight: float = 1.0,
        disc_lr: float = 3e-3,
    ):
        self.model = model
        self.tail = tail
        self.plan = plan
        self.groups = groups
        self.inputs = inputs
        self.method = method
        self.seed = seed
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.domain_loss = domain_loss
        self.domain_weight = domain_weight
        self.disc_lr = disc_lr
        self.criterion = nn.CrossEntropyLoss()
        self.step_index = 0
        self.total_steps = 1
        self.stats: dict[str, float] = {}

    def _loader(self, ds: Dataset, epoch: int, salt: int) -> DataLoader:
        # Own generators: the source order depends on (seed, epoch) only, identical for both
        # methods whatever else draws random numbers.
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch * 101 + salt)
        inp = self.inputs
        return DataLoader(
            ds,
            batch_size=inp.batch_size,
            shuffle=True,
            generator=gen,
            drop_last=len(cast(Sized, ds)) > inp.batch_size,
            num_workers=inp.num_workers,
        )

    def phase(self, epoch: int) -> Phase:
        apply_plan(self.model, self.plan, self.groups, epoch)
        groups = build_param_groups(self.model, self.plan, self.groups, epoch, self.weight_decay)
        inp = self.inputs
        source = self._loader(inp.source_train, epoch, 0)
        val = DataLoader(
            inp.source_val, batch_size=max(64, inp.batch_size), num_workers=inp.num_workers
        )
        self.total_steps = self.epochs * len(source)
        self.step_index = epoch * len(source)
        self.stats = {
            "class_loss": 0.0,
            "domain_loss": 0.0,
            "domain_acc": 0.0,
            "n": 0.0,
            "coeff": 0.0,
        }
        if self.method == "source-only":
            return Phase(
                ("source-only",),
                self.tail,
                SourceBatches(source),
                val,
                groups,
                steps=len(source),
                channels_last=inp.channels_last,
                step=self._source_step,
            )
        assert self.domain_loss is not None
        groups += discriminator_groups(
            self.domain_loss.discriminator, self.disc_lr, self.weight_decay
        )
        # Batches are ((x_source, x_target), y_source): the loop passes them to the step as is.
        train = cast(Iterable, PairedBatches(source, self._loader(inp.target_pool, epoch, 1)))
        return Phase(
            ("dann",),
            self.tail,
            train,
            val,
            groups,
            steps=len(source),
            channels_last=inp.channels_last,
            step=self._dann_step,
        )

    def _cl(self, x: torch.Tensor) -> torch.Tensor:
        if self.inputs.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _source_step(self, x: Any, y: torch.Tensor) -> Step:
        logits = self.tail(x)
        loss = self.criterion(logits.float(), y)
        self._record(loss, None)
        return loss, logits, y

    def _dann_step(self, x: Any, y: torch.Tensor) -> Step:
        assert self.domain_loss is not None
        x_s, x_t = x
        coeff = self.domain_loss.grl.schedule(self.step_index / max(1, self.total_steps))
        f = self.tail.features(self._cl(torch.cat([x_s, x_t])))
        f_s, f_t = f[: len(x_s)], f[len(x_s) :]
        logits = self.tail.classify(f_s)
        class_loss = self.criterion(logits.float(), y)  # source labels only
        domain = self.domain_loss(f_s, f_t)  # features only: no label of either domain
        self._record(class_loss, domain, coeff)
        return class_loss + self.domain_weight * domain, logits, y

    def _record(
        self, class_loss: torch.Tensor, domain: torch.Tensor | None, coeff: float = 0.0
    ) -> None:
        self.step_index += 1
        s = self.stats
        s["class_loss"] += class_loss.item()
        s["n"] += 1
        if domain is not None and self.domain_loss is not None:
            s["domain_loss"] += domain.item()
            s["domain_acc"] += self.domain_loss.domain_accuracy
            s["coeff"] = coeff

    def epoch_stats(self) -> dict[str, Any]:
        """Mean class loss, domain loss and discriminator accuracy of the last epoch."""
        s, n = self.stats, max(1.0, self.stats.get("n", 0.0))
        out: dict[str, Any] = {"class_loss": s.get("class_loss", 0.0) / n}
        if self.method == "dann":
            out.update(
                domain_loss=s["domain_loss"] / n, domain_acc=s["domain_acc"] / n, coeff=s["coeff"]
            )
        return out

    def set_train_mode(self, epoch: int) -> None:
        set_train_mode(self.model, self.plan, self.groups, epoch)
        if self.domain_loss is not None:
            self.domain_loss.train()

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion(logits, targets)


def discriminator_groups(disc: nn.Module, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """Optimizer groups of the discriminator: weights with decay, biases without."""
    out = []
    for no_decay in (False, True):
        items = [
            (f"discriminator.{n}", p)
            for n, p in disc.named_parameters()
            if (p.ndim <= 1) == no_decay
        ]
        if items:
            out.append(
                {
                    "name": "discriminator" + (" (no decay)" if no_decay else ""),
                    "params": [p for _, p in items],
                    "param_names": [n for n, _ in items],
                    "lr": lr,
                    "base_lr": lr,
                    "weight_decay": 0.0 if no_decay else weight_decay,
                }
            )
    return out
