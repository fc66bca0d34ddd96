"""One model (source-only or DANN) for one seed: a run of the engine, then measured."""

from __future__ import annotations

import copy
import dataclasses
import warnings
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from headstart.adaptation.dann import DomainAdversarialLoss
from headstart.adaptation.discriminator import DomainDiscriminator
from headstart.adaptation.gap import embed, proxy_a_distance
from headstart.adaptation.grl import GradientReverseLayer
from headstart.adaptation.prepare import Prepared
from headstart.adaptation.task import AdaptationTask, AdaptModel, Tail
from headstart.backbones import make_head
from headstart.engine import run as engine
from headstart.engine.checkpoint import CheckpointMeta
from headstart.engine.convs import fast_convolutions
from headstart.engine.loop import Loop, LoopConfig
from headstart.engine.precision import precision_name
from headstart.features.prefix import split_body
from headstart.strategies import Part, Plan, PlanOptions, make_plan, resolve_lrs
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


class MethodJob(engine.Job):
    """One model of an adaptation run, trained by ``method`` from the pretrained backbone with
    ``seed``: a run of its own (``RUN/runs/METHOD-seedN``) on the shared, cached inputs."""

    kind = "adapt"
    unit = "img"
    model: AdaptModel
    write_report = True

    def __init__(self, p: Prepared, method: str, seed: int):
        self.p = p
        self.method = method
        self.seed = seed
        self.cfg = p.cfg
        self.config = dataclasses.replace(p.cfg, seeds=[seed], methods=[method])
        self.classes = p.data.classes

    def prepare(self) -> None:
        p, cfg = self.p, self.cfg
        body = copy.deepcopy(p.backbone.body)
        torch.manual_seed(self.seed)  # the same head init for both methods
        head = make_head(p.backbone.num_features, len(p.data.classes), cfg.bottleneck, cfg.dropout)
        encoder = body
        if not p.split.empty:
            size = p.backbone.data_config["input_size"]
            encoder = split_body(body, p.trainable, size, check=False).suffix
        self.tail = Tail(encoder, head)
        self.domain_loss: DomainAdversarialLoss | None = None
        discriminator = None
        if self.method == "dann":
            grl = GradientReverseLayer(0.0, cfg.gamma, cfg.coeff_max)
            discriminator = DomainDiscriminator(
                cfg.bottleneck, cfg.disc_hidden, cfg.disc_layers, cfg.disc_dropout
            )
            self.domain_loss = DomainAdversarialLoss(discriminator, grl)
        self.model = AdaptModel(body, head, discriminator).to(p.device)
        if p.inputs.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.plan = adapt_plan(p, self.model)

    def describe(self) -> list[str]:
        return [f"{self.method}, seed {self.seed}", self.plan.table()]

    def make_task(self) -> AdaptationTask:
        cfg = self.cfg
        return AdaptationTask(
            self.model, self.tail, self.plan, self.p.inputs, self.method, self.seed,
            cfg.epochs, cfg.weight_decay, self.domain_loss, cfg.domain_weight,
        )  # fmt: skip

    def loop_config(self) -> LoopConfig:
        return LoopConfig.of(self.cfg, self.p.device, self.p.dtype, seed=self.seed)

    def training(self) -> AbstractContextManager[Any]:
        size = tuple(self.p.backbone.data_config["input_size"])
        return fast_convolutions(self.model.body, size, self.p.inputs.channels_last)

    def meta(self) -> CheckpointMeta:
        bb, cfg = self.p.backbone, self.cfg
        return CheckpointMeta(
            task="image-classification",
            classes=list(self.classes),
            backbone=bb.describe(),
            head={"hidden": cfg.bottleneck, "dropout": cfg.dropout},
            strategy=self.plan.strategy,
            plan=self.plan.to_dict(),
            precision=precision_name(self.p.dtype),
            config=self.config.to_dict(),
            versions=versions("timm"),
            extra={
                "adaptation": {
                    "method": self.method,
                    "seed": self.seed,
                    "source": cfg.source,
                    "target": cfg.target,
                }
            },
        )

    def state(self) -> dict[str, torch.Tensor]:
        """The image classifier (``headstart predict`` and ``evaluate`` load it)."""
        return self.model.classifier_state()

    def extra_state(self) -> dict[str, torch.Tensor]:
        """The discriminator, which a resumed DANN run needs."""
        disc = getattr(self.model, "discriminator", None)
        return dict(disc.state_dict()) if disc is not None else {}

    def load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, torch.Tensor]) -> None:
        disc = {f"discriminator.{k}": v for k, v in extra.items()}
        self.model.load_state_dict({**tensors, **disc})

    def conclude(self, outcome: engine.Outcome) -> dict[str, Any]:
        """The final model scored (``measure``), in summary.json."""
        self.result = self.measure(outcome)
        return {"adaptation": self.result.row()}

    def measure(self, outcome: engine.Outcome) -> MethodResult:
        """Target accuracy of the final model, the domain gap of its features, and the
        discriminator's accuracy on held-out images of both domains."""
        p, tail = self.p, self.tail
        loop = Loop(self.make_task(), self.loop_config())
        target_acc = None
        if p.target_eval is not None:
            batches = DataLoader(p.target_eval, batch_size=128)
            target_acc = loop.evaluate(tail, batches, p.inputs.channels_last)["accuracy"]
        f_s, f_t = domain_features(p, tail, tail.features)
        disc_acc = (
            discriminator_accuracy(p, self.domain_loss, f_s, f_t) if self.domain_loss else None
        )
        warn_if_collapsed(tail, f_t, self.method, self.seed, p.device)
        history = outcome.history
        return MethodResult(
            self.method, self.seed, history[-1].val_acc, target_acc,
            proxy_a_distance(f_s, f_t, self.seed), proxy_a_distance(f_s, f_t, self.seed, 2),
            disc_acc, sum(r.seconds for r in history),
            float(np.mean([r.train_images_per_s for r in history])),
            str(outcome.run_dir / "checkpoints" / "last.safetensors"),
            [r.row() for r in history], (f_s, f_t),
        )  # fmt: skip

    def report(self, outcome: engine.Outcome) -> None:
        """An adaptation run reports every model together (``adaptation/report.py``)."""


def adapt_plan(p: Prepared, model: AdaptModel) -> Plan:
    """The backbone's groups by the run's strategy; head and discriminator at ``head_lr``."""
    cfg = p.cfg
    new = [Part.of("head", model.head, "head.")]
    disc = getattr(model, "discriminator", None)
    if disc is not None:
        new.append(Part.of("discriminator", disc, "discriminator."))
    lr, head_lr = resolve_lrs("adapt", p.strategy, cfg.lr, cfg.head_lr)
    opts = PlanOptions(
        lr=lr, head_lr=head_lr, lr_decay=cfg.lr_decay, pretrained=cfg.weights != "random"
    )
    return make_plan(p.strategy, p.backbone.parts(), new, cfg.epochs, opts)


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
    size = p.backbone.data_config["input_size"]
    encoder = body if p.split.empty else split_body(body, p.trainable, size, check=False).suffix
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
