"""Run configuration: dataclasses are the single source of truth; CLI and YAML build them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from headstart import options as opt
from headstart.errors import HeadstartError
from headstart.options import Rule, validate
from headstart.strategies.defaults import resolve_lrs
from headstart.strategies.plan import PlanOptions
from headstart.strategies.strategy import LAYERED, parse_strategy

STRATEGY_TEXT = (
    "auto, feature-extraction, linear-probe, partial, partial:N, full, progressive, "
    "progressive:N or scratch (N >= 1 layer groups)"
)


def check_strategy(spec: Any) -> str:
    """``spec`` if it names an image strategy (``partial:N``/``progressive:N`` with N >= 1);
    else parse_strategy's own line, naming the strategies that apply."""
    if spec == "auto":
        return spec
    if not isinstance(spec, str):
        raise ValueError(spec)
    parse_strategy(spec).check(LAYERED, "image classification")
    return spec


STRATEGY_RULE = opt.Custom(check_strategy, STRATEGY_TEXT)
# The allowed value of every numeric or choice option of ``TrainConfig``.
TRAIN_RULES: dict[str, Rule] = {
    "strategy": STRATEGY_RULE,
    "epochs": opt.POSITIVE_INT,
    "batch_size": opt.POSITIVE_INT,
    "lr": opt.LR_OR_FIND,
    "head_lr": opt.OPTIONAL_LR,
    "lr_rule": opt.Choice(("steep", "valley", "minimum")),
    "lr_decay": opt.Number(low=0, high=1, low_open=True),
    "lr_min": opt.OPTIONAL_LR,
    "weight_decay": opt.WEIGHT_DECAY,
    "warmup_epochs": opt.EPOCHS_FLOAT,
    "schedule": opt.Choice(("cosine", "constant")),
    "bn_stats": opt.Choice(("frozen", "adapt")),
    "augment": opt.Choice(("none", "light", "standard")),
    "head_hidden": opt.COUNT,
    "dropout": opt.PROBABILITY_BELOW_1,
    "label_smoothing": opt.PROBABILITY_BELOW_1,
    "partial_groups": opt.POSITIVE_INT,
    "head_epochs": opt.COUNT,
    "unfreeze_every": opt.POSITIVE_INT,
    "patience": opt.COUNT,
    "clip_grad": opt.CLIP_GRAD,
    "seed": opt.SEED,
    "precision": opt.PRECISION,
    "val_fraction": opt.FRACTION,
    "num_workers": opt.WORKERS,
    "device": opt.DEVICE,
}

# ``compare``'s own options (the others are ``TrainConfig``'s).
COMPARE_RULES: dict[str, Rule] = {
    "strategies": opt.ListOf(STRATEGY_RULE),
    "seeds": opt.ListOf(opt.SEED),
    "budget": opt.Number(low=0, optional=True),  # seconds per strategy run (0: one epoch)
}


@dataclass
class TrainConfig:
    """Everything that decides a training run. Saved as ``config.yaml`` in the run directory."""

    data: str = ""
    backbone: str = "tf_efficientnet_lite0"
    weights: str = "pretrained"  # pretrained | random | path to a .safetensors/.pth file
    strategy: str = "progressive"
    epochs: int = 5
    batch_size: int = 32
    lr: float | str | None = None  # backbone top-group LR (default per strategy); "find": lr-find
    head_lr: float | None = None
    lr_rule: str = (
        "steep"  # --lr find: which suggestion of the range test (steep | valley | minimum)
    )
    lr_decay: float = 0.7
    lr_min: float | None = None
    weight_decay: float = 0.01
    warmup_epochs: float = 0.0
    schedule: str = "cosine"
    train_bn: bool = False
    bn_stats: str = "frozen"
    augment: str = "standard"
    head_hidden: int = 0
    dropout: float = 0.0
    label_smoothing: float = 0.0
    class_weights: bool = False
    balanced_sampling: bool = False
    partial_groups: int = 3
    head_epochs: int = 1
    unfreeze_every: int = 1
    patience: int = 0  # early stopping on val accuracy; 0 = off
    clip_grad: float | None = None  # max global gradient norm; None: no clipping
    seed: int = 0
    precision: str = "auto"  # auto | bf16 | fp16 | fp32
    val_fraction: float = 0.2
    classes: list[str] | None = None
    image_col: str | None = None  # hf: data sets: the image column (default: the first Image)
    label_col: str | None = None  # hf: data sets: the label column (default: the first ClassLabel)
    skip_bad: bool = False
    strict: bool = False
    num_workers: int = -1  # -1: decide from the machine
    cache_dir: str | None = None
    out: str = "runs"
    name: str | None = None
    device: str = "auto"
    progress: bool = True
    report: bool = True  # plots and report.html at the end of the run
    tensorboard: bool = True  # TensorBoard events in RUN/tensorboard
    track: str | None = None  # also log to: mlflow
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self, TRAIN_RULES)

    def plan_options(self) -> PlanOptions:
        lr, head_lr = self.resolved_lrs()
        return PlanOptions.of(self, lr=lr, head_lr=head_lr, pretrained=self.weights != "random")

    def resolved_lrs(self) -> tuple[float, float]:
        """The flags if given, else the defaults of the strategy (``strategies/defaults.py``);
        ``lr="find"`` (before the range test has run) counts as not given."""
        lr = None if self.lr == "find" else self.lr
        if isinstance(lr, str):
            try:
                lr = float(lr)
            except ValueError:
                raise HeadstartError(
                    f"--lr {lr}: give a number, or find (the LR range test)"
                ) from None
        return resolve_lrs("image", self.strategy, lr, self.head_lr)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path, cls: type = TrainConfig) -> dict[str, Any]:
    """Read a YAML config file into a dict of known fields (unknown keys are an error)."""
    path = Path(path)
    if not path.is_file():
        raise HeadstartError(f"--config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise HeadstartError(f"--config {path} is not UTF-8 text; give a YAML file") from None
    except yaml.YAMLError as err:
        raise HeadstartError(f"--config {path} is not valid YAML: {err}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise HeadstartError(f"--config {path} must hold a mapping of option: value")
    values = {str(k).replace("-", "_"): v for k, v in raw.items()}  # flag spellings too
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:
        raise HeadstartError(f"--config {path}: unknown option(s) {', '.join(unknown)}")
    return values
