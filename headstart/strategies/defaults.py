"""Default learning rates: one table for every task and strategy.

Each entry is ``(lr, head_lr)``: ``lr`` for what trains inside the pretrained model (its top
layer group, lower groups get less by ``lr_decay``; or the adapter), ``head_lr`` for the new
modules (head, bottleneck, DANN discriminator). A flag given by the user always wins.

Where the numbers come from:
- image: pretrained CNN layers move gently (5e-4) while the new head learns fast (3e-3);
  ``scratch`` has no pretrained features to protect (3e-3 everywhere).
- text (all-MiniLM-L6-v2 on Rotten Tomatoes, README "Text classification"): transformer
  fine-tuning wants a far smaller LR (5e-5); adapters with few parameters need larger steps,
  prompt/prefix tuning the largest.
- fewshot: episodic fine-tuning of the top groups (1e-4) with a projection head (1e-3).
- adapt: DANN with trainable backbone groups collapsed at 1e-3 on MNIST -> digits, not at
  1e-4; bottleneck, classifier and discriminator at 3e-3.
"""

from __future__ import annotations

from headstart.strategies.strategy import Strategy, parse_strategy

ANY = "*"

DEFAULT_LRS: dict[tuple[str, str], tuple[float, float]] = {
    ("image", ANY): (5e-4, 3e-3),
    ("image", "scratch"): (3e-3, 3e-3),
    ("text", ANY): (5e-5, 1e-3),
    ("text", "feature-extraction"): (5e-5, 3e-3),
    ("text", "lora"): (2e-3, 2e-3),
    ("text", "ia3"): (1e-2, 2e-3),
    ("text", "prompt"): (3e-2, 2e-3),
    ("text", "prefix"): (1e-2, 2e-3),
    ("fewshot", ANY): (1e-4, 1e-3),
    ("adapt", ANY): (1e-4, 3e-3),
}


def default_lrs(family: str, strategy: str | Strategy) -> tuple[float, float]:
    """``(lr, head_lr)`` for ``strategy`` in a task ``family`` (image, text, fewshot, adapt).

    >>> default_lrs("text", "lora")
    (0.002, 0.002)
    """
    name = parse_strategy(strategy).name
    key = (family, name) if (family, name) in DEFAULT_LRS else (family, ANY)
    return DEFAULT_LRS[key]


def resolve_lrs(
    family: str, strategy: str | Strategy, lr: float | None, head_lr: float | None
) -> tuple[float, float]:
    """The given LRs, each falling back to the table's default."""
    d_lr, d_head = default_lrs(family, strategy)
    return (d_lr if lr is None else lr), (d_head if head_lr is None else head_lr)
