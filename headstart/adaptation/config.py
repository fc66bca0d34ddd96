"""``AdaptConfig``: everything that decides a domain-adaptation run, saved with the run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from headstart import options as opt
from headstart.options import Rule, validate

MAPS = ("tsne", "pca")
METHODS = ("source-only", "dann")
POSITIVE = opt.Number(low=0, low_open=True)
# The allowed value of every numeric or choice option of ``AdaptConfig``.
ADAPT_RULES: dict[str, Rule] = {
    "train_groups": opt.COUNT,
    "epochs": opt.POSITIVE_INT,
    "batch_size": opt.POSITIVE_INT,
    "lr": opt.OPTIONAL_LR,
    "head_lr": opt.OPTIONAL_LR,
    "lr_decay": opt.Number(low=0, high=1, low_open=True),
    "weight_decay": opt.WEIGHT_DECAY,
    "warmup_epochs": opt.EPOCHS_FLOAT,
    "schedule": opt.Choice(("cosine", "constant")),
    "bottleneck": opt.POSITIVE_INT,
    "dropout": opt.PROBABILITY_BELOW_1,
    "disc_hidden": opt.POSITIVE_INT,
    "disc_layers": opt.COUNT,
    "disc_dropout": opt.PROBABILITY_BELOW_1,
    "domain_weight": opt.Number(low=0),
    "clip_grad": opt.CLIP_GRAD,
    "gamma": POSITIVE,
    "coeff_max": POSITIVE,
    "seeds": opt.ListOf(opt.SEED),
    "methods": opt.ListOf(opt.Choice(METHODS)),
    "val_fraction": opt.FRACTION,
    "map_method": opt.Choice(MAPS),
    "map_points": opt.Number(low=2, integer=True),
    "precision": opt.PRECISION,
    "num_workers": opt.WORKERS,
    "device": opt.DEVICE,
}


@dataclass
class AdaptConfig:
    """A source-only model and a DANN model, trained with the same budget for every seed."""

    source: str = ""
    target: str = ""
    target_val: str | None = None
    backbone: str = "tf_efficientnet_lite0"
    weights: str = "pretrained"
    # Top layer groups of the backbone that train (the rest is frozen and cached). 0: the
    # backbone stays frozen and the bottleneck adapts, which was stable on MNIST -> digits;
    # with trainable groups, keep ``lr`` low (1e-3 made DANN collapse there, 1e-4 did not).
    train_groups: int = 0
    epochs: int = 30
    batch_size: int = 32  # per domain: a DANN step sees this many source and target images
    lr: float | None = None  # top backbone group; lower groups get lr * lr_decay**k; 1e-4
    head_lr: float | None = None  # bottleneck, classifier and discriminator; 3e-3
    lr_decay: float = 0.7
    weight_decay: float = 0.01
    warmup_epochs: float = 0.0
    schedule: str = "cosine"
    bottleneck: int = 256
    dropout: float = 0.5
    disc_hidden: int = 1024
    disc_layers: int = 2
    disc_dropout: float = 0.5
    domain_weight: float = 1.0
    clip_grad: float | None = None  # max global gradient norm; None: no clipping
    gamma: float = 10.0  # coefficient schedule 2 / (1 + exp(-gamma p)) - 1
    coeff_max: float = 1.0
    seeds: list[int] = field(default_factory=lambda: [0])
    methods: list[str] = field(default_factory=lambda: ["source-only", "dann"])
    val_fraction: float = 0.2
    monitor_target: bool = True
    map_method: str = "tsne"
    map_points: int = 400
    precision: str = "auto"
    num_workers: int = -1
    cache_dir: str | None = None
    out: str = "runs"
    name: str | None = None
    device: str = "auto"
    progress: bool = True
    tensorboard: bool = True  # TensorBoard events in RUN/tensorboard
    track: str | None = None  # also log to: mlflow

    def __post_init__(self) -> None:
        validate(self, ADAPT_RULES)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
