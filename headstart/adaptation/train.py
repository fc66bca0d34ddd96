"""Training one model (source-only or DANN) for one seed, and measuring it."""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from headstart.adaptation.dann import DomainAdversarialLoss
from headstart.adaptation.discriminator import DomainDiscriminator
from headstart.adaptation.gap import embed, proxy_a_distance
from headstart.adaptation.grl import GradientReverseLayer
from headstart.adaptation.prefix import split_body
from headstart.adaptation.prepare import Prepared
from headstart.adaptation.task import AdaptationTask, Tail
from headstart.backbones import TransferModel, make_head
from headstart.engine.checkpoint import save_checkpoint
from headstart.engine.convs import fast_convolutions
from headstart.engine.loop import EpochResult, Loop, LoopConfig
from headstart.versions import versions


@dataclass
class MethodResult:
    method: str
    seed: int
    source_val_acc: float
    target_acc: float | None
    pad: float  # proxy A-distance of this model's bottleneck features
    pad_2d: float  # the same on their top two principal components
    domain_acc: float | None  # DANN's discriminator on held-out source val vs target images
    seconds: float  # training, evaluation and saving
    images_per_s: float  # source images per second of training
    checkpoint: str
    history: list[dict[str, Any]] = field(default_factory=list)
    features: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def row(self) -> dict[str, Any]:
        keys = (
            "method",
            "seed",
            "source_val_acc",
            "target_acc",
            "domain_acc",
            "pad",
            "pad_2d",
            "seconds",
            "images_per_s",
            "checkpoint",
        )
        return {k: getattr(self, k) for k in keys}


class EpochLog:
    """Loop callback: one printed line and one metrics row per epoch, with both losses."""

    def __init__(
        self, task: AdaptationTask, tail: Tail, target_eval: DataLoader | None, channels_last: bool
    ):
        self.task = task
        self.tail = tail
        self.target_eval = target_eval
        self.cl = channels_last
        self.rows: list[dict[str, Any]] = []

    def __call__(self, result: EpochResult, loop: Loop) -> None:
        stats = self.task.epoch_stats()
        row: dict[str, Any] = {
            "method": self.task.method,
            "seed": self.task.seed,
            **result.row(),
            **stats,
        }
        line = (
            f"{self.task.method:<11} seed {self.task.seed} epoch {result.epoch:>2}/"
            f"{loop.cfg.epochs}  class loss {stats['class_loss']:.4f}"
        )
        if "domain_loss" in stats:
            line += (
                f"  domain loss {stats['domain_loss']:.4f} acc {stats['domain_acc']:.3f}"
                f" (coeff {stats['coeff']:.3f})"
            )
        line += f" | source val acc {result.val_acc:.4f}"
        if self.target_eval is not None:  # monitoring only: never used to pick a model
            row["target_acc"] = loop.evaluate(self.tail, self.target_eval, self.cl)["accuracy"]
            line += f"  target acc {row['target_acc']:.4f}"
        print(line + f" | {result.seconds:.1f}s {result.train_images_per_s:.0f} img/s", flush=True)
        self.rows.append(row)


def train_method(p: Prepared, method: str, seed: int, run_dir: Path) -> MethodResult:
    """Train ``method`` from the pretrained backbone with ``seed``; score it; save it."""
    cfg, start = p.cfg, time.perf_counter()
    body = copy.deepcopy(p.backbone.body)
    torch.manual_seed(seed)  # the same head init for both methods
    head = make_head(p.backbone.num_features, len(p.data.classes), cfg.bottleneck, cfg.dropout)
    model = TransferModel(body, head).to(p.device)
    encoder = body
    if p.cut is not None:
        split = split_body(
            body, p.trainable, tuple(p.backbone.data_config["input_size"]), check=False
        )
        assert split is not None and len(split[0]) == p.cut
        encoder = split[1]
    tail = Tail(encoder, head)
    domain_loss = None
    if method == "dann":
        grl = GradientReverseLayer(0.0, cfg.gamma, cfg.coeff_max)
        disc = DomainDiscriminator(cfg.bottleneck, cfg.disc_hidden, cfg.disc_layers)
        domain_loss = DomainAdversarialLoss(disc, grl).to(p.device)
    if p.inputs.channels_last:
        model.to(memory_format=torch.channels_last)
    task = AdaptationTask(
        model,
        tail,
        p.plan,
        p.groups,
        p.inputs,
        method,
        seed,
        cfg.epochs,
        cfg.weight_decay,
        domain_loss,
        cfg.domain_weight,
        cfg.head_lr,
    )
    target_eval = DataLoader(p.target_eval, batch_size=128) if p.target_eval is not None else None
    log = EpochLog(task, tail, target_eval if cfg.monitor_target else None, p.inputs.channels_last)
    loop = Loop(
        task,
        LoopConfig(
            epochs=cfg.epochs,
            seed=seed,
            warmup_epochs=cfg.warmup_epochs,
            schedule=cfg.schedule,
            device=p.device,
            dtype=p.dtype,
            progress=cfg.progress,
        ),
        callbacks=[log],
    )
    with fast_convolutions(
        body, tuple(p.backbone.data_config["input_size"]), p.inputs.channels_last
    ):
        history = loop.run()
    train_time = time.perf_counter() - start
    target_acc = (
        loop.evaluate(tail, target_eval, p.inputs.channels_last)["accuracy"]
        if target_eval is not None
        else None
    )
    f_s, f_t = domain_features(p, tail, tail.features)
    disc_acc = discriminator_accuracy(p, domain_loss, f_s, f_t) if domain_loss else None
    warn_if_collapsed(tail, f_t, method, seed, p.device)
    ckpt = save_model(
        p,
        model,
        domain_loss,
        method,
        seed,
        run_dir,
        {"source_val_acc": history[-1].val_acc, "target_acc": target_acc},
    )
    speed = float(np.mean([r.train_images_per_s for r in history]))
    return MethodResult(
        method,
        seed,
        history[-1].val_acc,
        target_acc,
        proxy_a_distance(f_s, f_t, seed),
        proxy_a_distance(f_s, f_t, seed, 2),
        disc_acc,
        train_time,
        speed,
        str(ckpt),
        log.rows,
        (f_s, f_t),
    )


def domain_features(p: Prepared, module: torch.nn.Module, fn: Any) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` on held-out source val images and on the target (evaluation set, else pool)."""
    target = p.target_eval if p.target_eval is not None else p.inputs.target_pool
    cl = p.inputs.channels_last
    return (
        embed(fn, module, p.inputs.source_val, p.device, p.dtype, cl),
        embed(fn, module, target, p.device, p.dtype, cl),
    )


def pretrained_features(p: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features of the untouched pretrained backbone, for the gap before training."""
    body = p.backbone.body
    encoder = body
    if p.cut is not None:
        split = split_body(
            body, p.trainable, tuple(p.backbone.data_config["input_size"]), check=False
        )
        assert split is not None
        encoder = split[1]
    return domain_features(p, encoder, encoder)


@torch.no_grad()
def warn_if_collapsed(
    tail: Tail, f_t: np.ndarray, method: str, seed: int, device: torch.device
) -> float:
    """Warn when the model puts (nearly) every target image in one class, the usual way an
    adversarial game fails; uses predictions only. Returns the largest class share."""
    was_training = tail.training
    tail.eval()
    pred = tail.classify(torch.from_numpy(f_t).to(device)).argmax(1).cpu().numpy()
    tail.train(was_training)
    share = float(np.bincount(pred).max() / max(1, len(pred))) if len(pred) else 0.0
    if share >= 0.9 and method == "dann":
        warnings.warn(
            f"dann seed {seed} puts {share:.0%} of the target images in one class: "
            "the adversarial training collapsed; lower --lr (backbone groups), "
            "--coeff-max or --domain-weight",
            stacklevel=2,
        )
    return share


@torch.no_grad()
def discriminator_accuracy(
    p: Prepared, loss: DomainAdversarialLoss, f_s: np.ndarray, f_t: np.ndarray
) -> float:
    """Balanced accuracy of the trained discriminator on held-out features of both domains."""
    disc = loss.discriminator.eval()
    s = disc(torch.from_numpy(f_s).to(p.device))
    t = disc(torch.from_numpy(f_t).to(p.device))
    return float(0.5 * ((s > 0).float().mean() + (t <= 0).float().mean()))


def save_model(
    p: Prepared,
    model: TransferModel,
    domain_loss: DomainAdversarialLoss | None,
    method: str,
    seed: int,
    run_dir: Path,
    metrics: dict[str, Any],
) -> Path:
    """An image-classification checkpoint (``headstart evaluate/predict`` load it), and for
    DANN the discriminator beside it."""
    bb, cfg = p.backbone, p.cfg
    meta = {
        "task": "image-classification",
        "classes": list(p.data.classes),
        "backbone": {
            "name": bb.name,
            "weights_source": bb.weights_source,
            "num_features": bb.num_features,
            "data_config": bb.data_config,
        },
        "head": {"hidden": cfg.bottleneck, "dropout": cfg.dropout},
        "plan": p.plan.to_dict(),
        "adaptation": {
            "method": method,
            "seed": seed,
            "source": cfg.source,
            "target": cfg.target,
            "metrics": metrics,
        },
        "config": cfg.to_dict(),
        "versions": versions("timm"),
    }
    path = run_dir / "checkpoints" / f"{method}-seed{seed}.safetensors"
    save_checkpoint(path, model.state_dict(), meta)
    if domain_loss is not None:
        save_checkpoint(
            path.with_name(f"{method}-seed{seed}-discriminator.safetensors"),
            domain_loss.discriminator.state_dict(),
            {
                "task": "domain-discriminator",
                "in_features": cfg.bottleneck,
                "hidden": cfg.disc_hidden,
                "layers": cfg.disc_layers,
            },
        )
    return path
