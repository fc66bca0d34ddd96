"""Text classification settings: one dataclass (saved with every run) and per-strategy defaults.

Strategies, from cheapest to most expensive per step:

- ``frozen``: the encoder never trains; mean-pooled embeddings are computed once (and cached
  on disk) and only the new head trains on them.
- ``prompt`` / ``prefix``: PEFT prompt tuning (virtual tokens prepended to the input
  embeddings) and prefix tuning (virtual keys/values in every attention layer).
- ``ia3``: PEFT IA3, learned scaling vectors on keys, values and feed-forward outputs.
- ``lora``: PEFT LoRA, low-rank updates of the attention projections.
- ``full``: every encoder weight trains, at a small opt.LR, with warmup.

The new head always trains (at ``head_lr``) and is saved with the adapter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from headstart import options as opt
from headstart.options import Rule, validate

STRATEGIES = ("frozen", "full", "lora", "ia3", "prompt", "prefix")
ADAPTERS = ("lora", "ia3", "prompt", "prefix")
SCHEDULES = ("linear", "cosine", "constant")

# opt.LR of what trains inside the encoder (all weights for ``full``, the adapter otherwise) and
# of the new head. Adapters with few parameters need much larger steps than full fine-tuning;
# prompt/prefix tuning need the largest. Chosen on Rotten Tomatoes fresh vs rotten with
# all-MiniLM-L6-v2 (README, "Text classification").
DEFAULT_LRS: dict[str, tuple[float, float]] = {
    "frozen": (0.0, 3e-3),
    "full": (5e-5, 1e-3),
    "lora": (2e-3, 2e-3),
    "ia3": (1e-2, 2e-3),
    "prompt": (3e-2, 2e-3),
    "prefix": (1e-2, 2e-3),
}

# The allowed value of every numeric or choice option of ``TextConfig``.
TEXT_RULES: dict[str, Rule] = {
    "strategy": opt.Choice(STRATEGIES),
    "epochs": opt.POSITIVE_INT,
    "batch_size": opt.POSITIVE_INT,
    "max_length": opt.POSITIVE_INT,
    "lr": opt.OPTIONAL_LR,
    "head_lr": opt.OPTIONAL_LR,
    "weight_decay": opt.WEIGHT_DECAY,
    "warmup_epochs": opt.EPOCHS_FLOAT,
    "schedule": opt.Choice(SCHEDULES),
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
    lr: float | None = None  # encoder / adapter opt.LR (default per strategy, DEFAULT_LRS)
    head_lr: float | None = None
    weight_decay: float = 0.01
    warmup_epochs: float = 0.3
    schedule: str = "linear"
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
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self, TEXT_RULES)

    def resolved_lrs(self) -> tuple[float, float]:
        """(encoder/adapter opt.LR, head opt.LR): the flags if given, else the strategy's defaults."""
        lr, head_lr = DEFAULT_LRS[self.strategy]
        return (
            self.lr if self.lr is not None else lr,
            self.head_lr if self.head_lr is not None else head_lr,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
