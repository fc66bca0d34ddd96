"""Episodic fine-tuning (prototypical loss) and Siamese training (contrastive loss) on the loop.

Only the top ``train_groups`` layer groups of the backbone train (plus, for Siamese, a
projection head); the frozen bottom is computed once per image (``split.py``). The run ends
with the few-shot evaluation of the frozen backbone and the trained model on the same
episodes of the evaluation classes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.backbones import TransferModel, count_params, load_backbone
from headstart.config import dump_config
from headstart.embeddings.encoders import backbone_encoder, checkpoint_encoder
from headstart.engine.convs import fast_convolutions
from headstart.engine.loop import EpochResult, Loop, LoopConfig, Phase
from headstart.engine.precision import resolve_device, resolve_precision
from headstart.engine.rundir import new_run_dir, write_csv_atomic
from headstart.errors import HeadstartError
from headstart.fewshot.batches import EpisodeBatches, PairBatches
from headstart.fewshot.checkpoint import save_fewshot
from headstart.fewshot.evaluate import FewShotScore, evaluate_fewshot, labelled_items, score_table
from headstart.fewshot.models import EpisodeNet, PairNet, contrastive_loss, projection_head
from headstart.fewshot.rules import FEWSHOT_RULES
from headstart.fewshot.split import prefix_activations, split_body
from headstart.io import write_json_atomic, write_text_atomic
from headstart.options import validate
from headstart.strategies import (
    PlanOptions,
    apply_plan,
    build_param_groups,
    make_plan,
    set_train_mode,
)

METHODS = ("protonet", "siamese")


@dataclass
class FewShotConfig:
    """Everything that decides a few-shot training run (saved as ``config.yaml``)."""

    data: str = ""
    method: str = "protonet"  # protonet | siamese
    backbone: str = "tf_efficientnet_lite0"
    weights: str = "pretrained"
    train_groups: int = 2  # top layer groups of the backbone that train
    epochs: int = 4
    steps: int = 50  # episodes (protonet) or pair batches (siamese) per epoch
    ways: int = 5
    shots: int = 5
    queries: int = 5
    pairs: int = 32  # pairs per Siamese batch (half same-class)
    metric: str = "cosine"
    margin: float = 1.0  # contrastive margin on unit-sphere distances
    embed_dim: int = 128  # Siamese projection size
    lr: float = 1e-4  # top backbone group (lower groups get less)
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    classes: list[str] | None = None  # classes to train on (default: all of train/)
    eval_classes: list[str] | None = None  # classes of the final evaluation (default: all)
    val_episodes: int = 20  # episodes (or pair batches) checked on val after each epoch
    eval_ways: int = 5
    eval_shots: list[int] = field(default_factory=lambda: [1, 5])
    eval_episodes: int = 600
    eval_queries: int = 15
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    out: str = "runs"
    name: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        validate(self, FEWSHOT_RULES)


@dataclass
class FewShotResult:
    run_dir: Path
    history: list[EpochResult]
    scores: list[FewShotScore]
    threshold: float | None = None


class _FewShotTask:
    """The loop's view of one few-shot run: a single phase over episodes or pairs."""

    def __init__(
        self,
        model: TransferModel,
        plan: Any,
        groups: list[tuple[str, ...]],
        phase: Phase,
        loss: Any,
    ):
        self.model, self.plan, self.groups, self._phase, self._loss = (
            model,
            plan,
            groups,
            phase,
            loss,
        )

    def phase(self, epoch: int) -> Phase:
        return self._phase

    def set_train_mode(self, epoch: int) -> None:
        set_train_mode(self.model, self.plan, self.groups, epoch)  # frozen BN stays in eval mode

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self._loss(logits, targets)


def train_fewshot(
    data: str | Path | None = None, config: FewShotConfig | None = None, **overrides: Any
) -> FewShotResult:
    """Fine-tune a backbone for few-shot use and compare it with frozen prototypes.

    >>> res = train_fewshot("data/fmnist", method="protonet", classes=BASE, eval_classes=NOVEL)
    >>> print(score_table(res.scores))
    """
    cfg = dataclasses.replace(config or FewShotConfig(), **overrides)
    cfg.data = str(data) if data is not None else cfg.data
    if cfg.method not in METHODS:
        raise HeadstartError(f"--method '{cfg.method}': choose protonet or siamese")
    if not cfg.data:
        raise HeadstartError("no data given: pass a folder with train/ and val/")
    try:
        cfg.eval_shots = [int(k) for k in cfg.eval_shots]  # the CLI gives strings
    except ValueError:
        raise HeadstartError(f"--eval-shots {cfg.eval_shots}: give numbers, e.g. 1,5") from None
    train_items = labelled_items(cfg.data, "train", cfg.classes)
    val_items = labelled_items(cfg.data, "val", cfg.classes)
    names = sorted({it.label for it in train_items})
    device = resolve_device(cfg.device)
    dtype = resolve_precision(cfg.precision, device)
    torch.manual_seed(cfg.seed)
    backbone = load_backbone(cfg.backbone, cfg.weights)
    head: nn.Module = (
        nn.Identity()
        if cfg.method == "protonet"
        else projection_head(backbone.num_features, cfg.embed_dim)
    )
    model = TransferModel(backbone.body, head).to(device)
    groups = [g.params for g in backbone.groups]
    n = max(1, min(cfg.train_groups, len(groups)))
    sizes = [sum(backbone.body.get_parameter(p).numel() for p in g) for g in groups]
    plan = make_plan(
        f"partial:{n}",
        [g.name for g in backbone.groups],
        sizes,
        count_params(head),
        cfg.epochs,
        PlanOptions(lr=cfg.lr, head_lr=cfg.head_lr),
    )
    apply_plan(model, plan, groups, 0)
    split = split_body(backbone, n)
    acts = {
        name: prefix_activations(
            split, backbone, [it.path for it in items], device, dtype, cfg.progress
        )
        for name, items in (("train", train_items), ("val", val_items))
    }
    labels = {
        name: np.array([names.index(it.label) for it in items])
        for name, items in (("train", train_items), ("val", val_items))
    }
    encoder = nn.Sequential(split.suffix, head)
    param_groups = build_param_groups(model, plan, groups, 0, cfg.weight_decay)
    net, phase, loss = _phase(cfg, encoder, acts, labels, split.shape, param_groups)
    if cfg.progress:
        print(plan.table() + f"\n  frozen prefix cached up to {split.where}")
    run_dir = new_run_dir(cfg.out, "fewshot", cfg.name or f"{Path(cfg.data).name}-{cfg.method}")
    write_text_atomic(run_dir / "config.yaml", dump_config(cfg))
    loop = Loop(
        _FewShotTask(model, plan, groups, phase, loss),
        LoopConfig(cfg.epochs, cfg.seed, device=device, dtype=dtype, progress=cfg.progress),
        callbacks=[_report(run_dir, cfg.progress)],
    )
    with fast_convolutions(backbone.body, tuple(backbone.data_config["input_size"])):
        history = loop.run()
    threshold = (
        _calibrate(net, acts["val"], labels["val"], split.shape, cfg, device)
        if isinstance(net, PairNet)
        else None
    )
    save_fewshot(
        run_dir / "checkpoints" / "last.safetensors",
        model,
        backbone,
        cfg,
        names,
        split.where,
        threshold,
        [r.row() for r in history],
    )
    encoders = [
        backbone_encoder(cfg.backbone, cfg.weights, cfg.device, cfg.precision),
        checkpoint_encoder(run_dir, cfg.device, cfg.precision),
    ]
    scores = evaluate_fewshot(
        cfg.data,
        encoders,
        cfg.eval_ways,
        cfg.eval_shots,
        cfg.eval_queries,
        cfg.eval_episodes,
        "val",
        cfg.eval_classes,
        cfg.metric,
        cfg.seed,
        cfg.progress,
    )
    write_json_atomic(run_dir / "fewshot_eval.json", [s.to_dict() for s in scores])
    write_text_atomic(run_dir / "fewshot_eval.txt", score_table(scores) + "\n")
    return FewShotResult(run_dir, history, scores, threshold)


def _phase(
    cfg: FewShotConfig,
    encoder: nn.Module,
    acts: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    shape: tuple[int, ...],
    param_groups: list[dict[str, Any]],
) -> tuple[nn.Module, Phase, Any]:
    if cfg.method == "protonet":
        net: nn.Module = EpisodeNet(encoder, cfg.metric)
        train = EpisodeBatches(
            acts["train"],
            shape,
            labels["train"],
            cfg.ways,
            cfg.shots,
            cfg.queries,
            cfg.steps,
            split="train",
        )
        val = EpisodeBatches(
            acts["val"],
            shape,
            labels["val"],
            cfg.ways,
            cfg.shots,
            cfg.queries,
            cfg.val_episodes,
            fixed_seed=cfg.seed + 1,
            split="val",
        )
        return (
            net,
            Phase("episodic", net, train, val, param_groups, cfg.steps),
            nn.CrossEntropyLoss(),
        )
    pair_net = PairNet(encoder, cfg.margin)
    train_pairs = PairBatches(acts["train"], shape, labels["train"], cfg.pairs, cfg.steps)
    val_pairs = PairBatches(
        acts["val"], shape, labels["val"], 64, cfg.val_episodes, fixed_seed=cfg.seed + 1
    )

    def step(x: Any, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d = pair_net.distance(x)
        return contrastive_loss(d, y, cfg.margin), pair_net.logits(d), y

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return contrastive_loss(pair_net.distance_from_logits(logits), y, cfg.margin)

    phase = Phase("pairs", pair_net, train_pairs, val_pairs, param_groups, cfg.steps, step=step)
    return pair_net, phase, loss


@torch.no_grad()
def _calibrate(
    net: PairNet,
    acts: np.ndarray,
    labels: np.ndarray,
    shape: tuple[int, ...],
    cfg: FewShotConfig,
    device: torch.device,
) -> float:
    """The distance threshold with the best same/different accuracy on validation pairs."""
    net.eval()
    distances, same = [], []
    for pair, y in PairBatches(acts, shape, labels, 100, 10, fixed_seed=cfg.seed + 2):
        distances.append(net.distance({k: v.to(device) for k, v in pair.items()}).cpu())
        same.append(y)
    d, s = torch.cat(distances).numpy(), torch.cat(same).numpy()
    candidates = np.unique(d)
    accs = [((d <= t) == (s == 1)).mean() for t in candidates]
    return float(candidates[int(np.argmax(accs))])


def _report(run_dir: Path, progress: bool) -> Any:
    rows: list[dict[str, Any]] = []

    def callback(result: EpochResult, loop: Loop) -> None:
        from headstart.report.plots import plot_curves

        rows.append(result.row())
        write_csv_atomic(run_dir / "metrics.csv", rows)
        plot_curves(run_dir / "curves.png", rows)
        if progress:
            print(
                f"epoch {result.epoch}: train loss {result.train_loss:.4f} acc "
                f"{result.train_acc:.4f}  val loss {result.val_loss:.4f} acc "
                f"{result.val_acc:.4f}  ({result.seconds:.1f}s)"
            )

    return callback
