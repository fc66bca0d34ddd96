"""The one training loop. Tasks plug in phases (module, data, optimizer groups) and a loss.

A *phase* is what trains during an epoch: for image classification either the head alone on
cached features, or the whole model on images. When the phase changes (progressive
unfreezing) the optimizer is rebuilt and AdamW's state carried over by parameter name, the
same way a resumed run restores it, so a resumed run continues exactly.

Under ``torchrun`` (several processes) the trained module is wrapped in DistributedDataParallel,
rebuilt whenever the phase changes, for phases whose loaders give each process its share
(``Phase.sharded``); epoch metrics are summed over the processes and evaluation outputs
gathered, so every process ends an epoch with the same result.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.std import tqdm  # tqdm.auto (asyncio) calls iter() up front: a second DataLoader iterator

from headstart.engine import distributed
from headstart.engine.metrics import classification_metrics
from headstart.engine.precision import autocast
from headstart.errors import HeadstartError, NonFiniteLossError
from headstart.strategies.schedule import lr_factor


@dataclass
class Phase:
    key: Any  # epochs whose phases have equal keys share one optimizer
    module: nn.Module
    train: Iterable[tuple[torch.Tensor, torch.Tensor]]
    val: Iterable[tuple[torch.Tensor, torch.Tensor]]
    param_groups: list[dict[str, Any]]
    steps: int  # batches per training epoch
    channels_last: bool = False
    # A custom training step ``step(x, y) -> (loss, logits, y)`` for tasks whose loss is more
    # than ``task.loss(module(x), y)`` (e.g. domain adaptation); None uses that default.
    step: Callable[[Any, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = (
        None
    )
    # True when ``train`` yields this process's share of each batch (``ShardedSampler``) and
    # ``val`` its share of the evaluation set (``OrderedShard``): needed to train in many processes.
    sharded: bool = False


class Task(Protocol):
    @property
    def model(self) -> nn.Module: ...

    def phase(self, epoch: int) -> Phase: ...

    def set_train_mode(self, epoch: int) -> None: ...

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...


@dataclass
class LoopConfig:
    epochs: int
    seed: int = 0
    warmup_epochs: float = 0.0
    schedule: str = "cosine"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype | None = None
    patience: int = 0
    progress: bool = True


@dataclass
class EpochResult:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    val_f1: float
    seconds: float
    train_images_per_s: float
    lrs: dict[str, float]
    val_pred: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    val_true: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    val_prob: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))

    def row(self) -> dict[str, Any]:
        keys = (
            "epoch",
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "val_f1",
            "seconds",
            "train_images_per_s",
        )
        row = {k: getattr(self, k) for k in keys}
        row.update({f"lr/{k}": v for k, v in self.lrs.items()})
        return row

    def line(self, epochs: int, unit: str) -> str:
        """The one-line epoch summary the CLI prints."""
        return (
            f"epoch {self.epoch:>3}/{epochs}  train loss {self.train_loss:.4f} "
            f"acc {self.train_acc:.4f} | val loss {self.val_loss:.4f} "
            f"acc {self.val_acc:.4f} f1 {self.val_f1:.4f} | {self.seconds:.1f}s "
            f"{self.train_images_per_s:.0f} {unit}/s"
        )

    def improves_on(self, best: dict[str, Any]) -> bool:
        """Whether this epoch beats ``best`` (a ``best_entry``; empty before the first epoch)."""
        return not best or self.val_acc > best["val_acc"]

    def best_entry(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "val_acc": self.val_acc,
            "val_f1": self.val_f1,
            "val_loss": self.val_loss,
        }


class Callback(Protocol):
    def __call__(self, result: EpochResult, loop: Loop) -> None: ...


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Loop:
    """Runs ``task`` for ``cfg.epochs`` epochs, calling each callback after every epoch."""

    def __init__(self, task: Task, cfg: LoopConfig, callbacks: Sequence[Callback] = ()):
        self.task = task
        self.cfg = cfg
        self.callbacks = list(callbacks)
        self.optimizer: torch.optim.Optimizer | None = None
        self._key: Any = object()
        self._ddp: nn.Module | None = None  # the phase's module in DDP (many processes only)
        self.history: list[EpochResult] = []
        self.stop = False
        self.scaler = torch.amp.GradScaler(enabled=cfg.dtype == torch.float16)

    def run(self, start_epoch: int = 0, optimizer_state: dict | None = None) -> list[EpochResult]:
        carry = optimizer_state or {}
        for epoch in range(start_epoch, self.cfg.epochs):
            phase = self.task.phase(epoch)
            if phase.key != self._key:
                carry = self.optimizer_state() if self.optimizer is not None else carry
                self.optimizer = torch.optim.AdamW(phase.param_groups)
                self._key = phase.key
                load_state_by_name(self.optimizer, carry)
                self._ddp = self._wrap(phase)
            # Seed after the phase is built (which may extract features): same batches whether
            # features came from the cache or not, and whether the run was resumed or not.
            seed_everything(self.cfg.seed * 100_003 + epoch)
            self.task.set_train_mode(epoch)
            result = self._epoch(epoch, phase)
            self.history.append(result)
            for cb in self.callbacks:
                cb(result, self)
            if distributed.active():  # a callback's stop in any process stops them all
                self.stop = distributed.any_true(self.stop)
            if self.stop or self._patience_exhausted():
                break
        return self.history

    def _wrap(self, phase: Phase) -> nn.Module | None:
        if not distributed.active():
            return None
        if not phase.sharded or phase.step is not None:
            raise HeadstartError(
                "this task does not train in several processes yet; run it without torchrun"
            )
        return distributed.wrap(phase.module, self.cfg.device)

    def _epoch(self, epoch: int, phase: Phase) -> EpochResult:
        cfg, opt = self.cfg, self.optimizer
        assert opt is not None
        total = cfg.epochs * phase.steps
        warmup = int(cfg.warmup_epochs * phase.steps)
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(
            phase.train,
            total=phase.steps,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            leave=False,
            disable=None if cfg.progress and distributed.is_main() else True,
            unit="batch",
        )
        for i, (x, y) in enumerate(bar):
            factor = lr_factor(epoch * phase.steps + i, total, warmup, cfg.schedule)
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * factor
            x, y = self._to_device(x, phase), to_device(y, cfg.device)
            if phase.step is not None:
                with autocast(cfg.device, cfg.dtype):
                    loss, logits, y = phase.step(x, y)
            else:
                with autocast(cfg.device, cfg.dtype):
                    logits = (phase.module if self._ddp is None else self._ddp)(x)
                loss = self.task.loss(logits.float(), y)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"the training loss became {loss.item()} at epoch {epoch + 1}, batch {i + 1}; "
                    "lower --lr/--head-lr or use --precision fp32. The last good checkpoint is kept"
                )
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
            n = y.numel()
            loss_sum += loss.item() * n
            correct += int((logits.argmax(1) == y).sum())
            seen += n
            bar.set_postfix(
                loss=f"{loss_sum / seen:.3f}",
                acc=f"{correct / seen:.3f}",
                img_s=f"{seen / (time.perf_counter() - start):.0f}",
            )
        if distributed.active():
            loss_sum, c, s = distributed.all_reduce_sum([loss_sum, correct, seen])
            correct, seen = int(c), int(s)
            distributed.average_bn_statistics(phase.module)
        train_time = time.perf_counter() - start
        lrs = {g["name"]: g["lr"] for g in opt.param_groups}
        val = self.evaluate(phase.module, phase.val, phase.channels_last)
        return EpochResult(
            epoch=epoch + 1,
            train_loss=loss_sum / max(1, seen),
            train_acc=correct / max(1, seen),
            val_loss=val["loss"],
            val_acc=val["accuracy"],
            val_f1=val["macro_f1"],
            seconds=time.perf_counter() - start,
            train_images_per_s=seen / max(train_time, 1e-9),
            lrs=lrs,
            val_pred=val["pred"],
            val_true=val["true"],
            val_prob=val["prob"],
        )

    def _to_device(self, x: Any, phase: Phase) -> Any:
        x = to_device(x, self.cfg.device)
        if phase.channels_last and isinstance(x, torch.Tensor) and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    @torch.no_grad()
    def evaluate(self, module: nn.Module, batches: Iterable, channels_last: bool = False) -> dict:
        was_training = module.training
        module.eval()
        losses, probs, trues = [], [], []
        for x, y in batches:
            x = to_device(x, self.cfg.device)
            if channels_last and isinstance(x, torch.Tensor) and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(self.cfg.device, self.cfg.dtype):
                logits = module(x).float()
            y = y.to(self.cfg.device)
            losses.append(self.task.loss(logits, y).item() * y.numel())
            probs.append(logits.softmax(1).cpu())
            trues.append(y.cpu())
        module.train(was_training)
        loss_sum = sum(losses)
        shard = getattr(batches, "sampler", None)
        if isinstance(shard, distributed.OrderedShard):  # this process's share: gather them all
            prob_t = shard.assemble(torch.cat(probs) if probs else torch.zeros(0, 0))
            true_t = shard.assemble(torch.cat(trues) if trues else torch.zeros(0, dtype=torch.long))
            prob, true = prob_t.numpy(), true_t.numpy()
            loss_sum = distributed.all_reduce_sum([loss_sum])[0]
        else:
            prob = torch.cat(probs).numpy()
            true = torch.cat(trues).numpy()
        metrics = classification_metrics(true, prob.argmax(1), prob.shape[1])
        metrics["loss"] = float(loss_sum / max(1, len(true)))
        return {**metrics, "pred": prob.argmax(1), "true": true, "prob": prob}

    def optimizer_state(self) -> dict[str, dict[str, torch.Tensor]]:
        """AdamW state keyed by parameter name (so it survives rebuilds and resumes)."""
        out: dict[str, dict[str, torch.Tensor]] = {}
        if self.optimizer is None:
            return out
        for group in self.optimizer.param_groups:
            for name, p in zip(group["param_names"], group["params"]):
                state = self.optimizer.state.get(p)
                if state:
                    out[name] = {k: torch.as_tensor(v).clone() for k, v in state.items()}
        return out

    def _patience_exhausted(self) -> bool:
        p = self.cfg.patience
        if p <= 0 or len(self.history) <= p:
            return False
        best = max(r.val_acc for r in self.history[:-p])
        return all(r.val_acc <= best for r in self.history[-p:])


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a tensor, or a dict / list / tuple of tensors (e.g. tokenized text), to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict) or hasattr(batch, "items"):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def load_state_by_name(
    opt: torch.optim.Optimizer, state: dict[str, dict[str, torch.Tensor]]
) -> None:
    """Give each parameter of ``opt`` the saved state of the parameter with the same name."""
    for group in opt.param_groups:
        for name, p in zip(group["param_names"], group["params"]):
            if name in state:
                saved = state[name]
                opt.state[p] = {
                    k: (v.reshape(()) if k == "step" else v.to(p.device).reshape(p.shape))
                    for k, v in saved.items()
                }
