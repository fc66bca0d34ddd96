"""The allowed value of every numeric or choice option of ``FewShotConfig`` (few-shot training)
and of ``headstart fewshot eval``."""

from __future__ import annotations

from headstart import options as opt
from headstart.options import Rule

WAYS = opt.Number(low=2, integer=True)  # an episode tells at least two classes apart
METRIC = opt.Choice(("cosine", "euclidean"))
SHOTS = opt.ListOf(opt.POSITIVE_INT)

FEWSHOT_RULES: dict[str, Rule] = {
    "method": opt.Choice(("protonet", "siamese")),
    "train_groups": opt.POSITIVE_INT,
    "epochs": opt.POSITIVE_INT,
    "steps": opt.POSITIVE_INT,
    "ways": WAYS,
    "shots": opt.POSITIVE_INT,
    "queries": opt.POSITIVE_INT,
    "pairs": opt.Number(low=2, integer=True),
    "metric": METRIC,
    "margin": opt.Number(low=0, high=2, low_open=True),  # distances of unit vectors lie in [0, 2]
    "embed_dim": opt.POSITIVE_INT,
    "lr": opt.OPTIONAL_LR,
    "head_lr": opt.OPTIONAL_LR,
    "weight_decay": opt.WEIGHT_DECAY,
    "val_episodes": opt.POSITIVE_INT,
    "eval_ways": WAYS,
    "eval_shots": SHOTS,
    "eval_episodes": opt.POSITIVE_INT,
    "eval_queries": opt.POSITIVE_INT,
    "seed": opt.SEED,
    "precision": opt.PRECISION,
    "device": opt.DEVICE,
}

EVAL_RULES: dict[str, Rule] = {
    "ways": WAYS,
    "shots": SHOTS,
    "queries": opt.POSITIVE_INT,
    "episodes": opt.POSITIVE_INT,
    "seed": opt.SEED,
    "precision": opt.PRECISION,
}
