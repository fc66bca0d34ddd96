"""Text classification settings: one dataclass, saved with every run.

Text runs speak the strategy vocabulary of every task (``headstart.strategies``), from cheapest
to most expensive per step:

- ``feature-extraction`` (old name ``frozen``): the encoder never trains; mean-pooled
  embeddings are computed once (and cached on disk) and only the new head trains on them.
- ``prompt`` / ``prefix``: PEFT prompt tuning (virtual tokens prepended to the input
  embeddings) and prefix tuning (virtual keys/values in every attention layer).
- ``ia3``: PEFT IA3, learned scaling vectors on keys, values and feed-forward outputs.
- ``lora``: PEFT LoRA, low-rank updates of the attention projections.
- ``partial:N``: the top N transformer layers train; ``progressive``: the head first, then
  one layer more per epoch from the top (gradual unfreezing, as in ULMFiT).
- ``full``: every encoder weight trains, at a small LR, with warmup.

The new head always trains (at ``head_lr``) and is saved with what else trained. Default LRs
are in ``headstart.strategies.defaults``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from headstart import options as opt
from headstart.options import Rule, validate
from headstart.strategies.defaults import resolve_lrs
from headstart.strategies.plan import PlanOptions
from headstart.strategies.strategy import ADAPTERS, parse_strategy

# What a text encoder can do, in ``text compare``'s default order.
STRATEGIES = ("feature-extraction", "full", "lora", "ia3", "prompt", "prefix")
ALLOWED = (*STRATEGIES, "partial", "progressive")
SCHEDULES = ("linear", "cosine", "constant")

__all__ = ["ADAPTERS", "ALLOWED", "SCHEDULES", "STRATEGIES", "TEXT_RULES", "TextConfig"]


def check_strategy(spec: Any) -> str:
    """The canonical name of a text strategy (``frozen`` is ``feature-extraction``); a name
    that is not one is parse_strategy's own line (naming the strategies that apply). ``auto``
    stays: ``recommend_text`` resolves it before the run."""
    if str(spec) == "auto":
        return "auto"
    return str(parse_strategy(str(spec)).check(ALLOWED, "text classification"))


# The allowed value of every numeric or choice option of ``TextConfig``.
TEXT_RULES: dict[str, Rule] = {
    "strategy": opt.Custom(
        check_strategy, f"one of {', '.join(ALLOWED)}, partial:N, progressive:N, auto"
    ),
    "epochs": opt.POSITIVE_INT,
    "batch_size": opt.POSITIVE_INT,
    "max_length": opt.POSITIVE_INT,
    "lr": opt.OPTIONAL_LR,
    "head_lr": opt.OPTIONAL_LR,
    "lr_decay": opt.Number(low=0, high=1, low_open=True),
    "partial_groups": opt.POSITIVE_INT,
    "head_epochs": opt.COUNT,
    "weight_decay": opt.WEIGHT_DECAY,
    "warmup_epochs": opt.EPOCHS_FLOAT,
    "schedule": opt.Choice(SCHEDULES),
    "clip_grad": opt.CLIP_GRAD,
    "dropout": opt.PROBABILITY_BELOW_1,
    "lora_r": opt.POSITIVE_INT,
    "lora_alpha": opt.POSITIVE_INT,
    "virtual_tokens": opt.POSITIVE_INT,
    "val_fraction": opt.FRACTION,
    "seed": opt.SEED,
    "precision": opt.PRECISION,
    "device": opt.DEVICE,
}


@dataclass
class TextConfig:
    """Everything that decides a text run. Saved as ``config.yaml`` in the run directory."""

    data: str = ""
    val: str | None = None  # a separate validation file; else the split column or a fraction
    text_col: str = "text"
    label_col: str = "label"
    split_col: str = "split"
    model: str = "minilm"  # minilm | a Hugging Face encoder name | a local model folder
    strategy: str = "lora"
    epochs: int = 2
    batch_size: int = 32
    max_length: int = 128
    group_by_length: bool = True  # batches of similar-length texts: less padding, faster
    lr: float | None = None  # encoder / adapter LR (default per strategy, DEFAULT_LRS)
    head_lr: float | None = None
    lr_decay: float = 1.0  # layer-wise LR decay below the top layer (1.0: one LR for all)
    partial_groups: int = 2  # partial: top transformer layers that train
    head_epochs: int = 1  # progressive: head-only epochs before the first unfreeze
    weight_decay: float = 0.01
    warmup_epochs: float = 0.3
    schedule: str = "linear"
    clip_grad: float | None = None  # max global gradient norm; None: no clipping
    class_weights: bool = False
    dropout: float = 0.1
    lora_r: int = 8
    lora_alpha: int = 16
    virtual_tokens: int = 10
    target_modules: list[str] | None = None  # adapter targets; None: PEFT's default per model
    val_fraction: float = 0.2
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    cache_dir: str | None = None
    out: str = "runs"
    name: str | None = None
    progress: bool = True
    tensorboard: bool = True  # TensorBoard events in RUN/tensorboard
    track: str | None = None  # also log to: mlflow
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self, TEXT_RULES)

    def resolved_lrs(self) -> tuple[float, float]:
        """(encoder/adapter LR, head LR): the flags if given, else the strategy's defaults."""
        return resolve_lrs("text", self.strategy, self.lr, self.head_lr)

    def plan_options(self) -> PlanOptions:
        lr, head_lr = self.resolved_lrs()
        # batch_norm: transformer encoders normalise with LayerNorm
        return PlanOptions.of(self, lr=lr, head_lr=head_lr, batch_norm=False)

    @property
    def adapter(self) -> bool:
        return self.strategy in ADAPTERS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
