"""Episodic fine-tuning (prototypical loss) and Siamese training (contrastive loss) on the loop.

Only the top ``train_groups`` layer groups of the backbone train (plus, for Siamese, a
projection head); the frozen bottom is computed once per image (``features/prefix.py``). The
run writes the same run directory as every task and ends with the few-shot evaluation of the
frozen backbone and the trained model (its ``best`` checkpoint) on the same episodes of the
evaluation classes.
"""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.backbones import Backbone, TransferModel, load_backbone
from headstart.data.imagedata import ImageFiles
from headstart.data.sources import Sample
from headstart.data.transforms import eval_transform
from headstart.embeddings.encoders import backbone_encoder
from headstart.engine import run as engine
from headstart.engine.checkpoint import (
    CheckpointMeta,
    read_meta,
    read_optimizer_state,
    read_tensors,
    save_checkpoint,
)
from headstart.engine.convs import fast_convolutions
from headstart.engine.loop import EpochResult
from headstart.engine.precision import precision_name, resolve_device
from headstart.engine.precision_probe import choose_precision
from headstart.engine.task import ClassifierTask, Phase, StepOutput
from headstart.errors import HeadstartError
from headstart.features.extract import Extraction, extraction_probe
from headstart.features.prefix import prefix_activations, split_body
from headstart.fewshot.batches import EpisodeBatches, PairBatches
from headstart.fewshot.checkpoint import TASK_PREFIX, fewshot_encoder
from headstart.fewshot.evaluate import FewShotScore, evaluate_fewshot, labelled_items, score_table
from headstart.fewshot.models import EpisodeNet, PairNet, contrastive_loss, projection_head
from headstart.fewshot.report import write_fewshot_report
from headstart.fewshot.rules import FEWSHOT_RULES
from headstart.io import write_json_atomic, write_text_atomic
from headstart.options import validate
from headstart.strategies import (
    Part,
    PlanOptions,
    apply_plan,
    build_param_groups,
    make_plan,
    resolve_lrs,
    set_train_mode,
)
from headstart.versions import versions

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
    lr: float | None = None  # top backbone group (lower groups get less); default 1e-4
    head_lr: float | None = None  # default 1e-3
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
    tensorboard: bool = True  # TensorBoard events in RUN/tensorboard
    track: str | None = None  # also log to: mlflow

    def __post_init__(self) -> None:
        validate(self, FEWSHOT_RULES)


@dataclass
class FewShotResult:
    run_dir: Path
    history: list[EpochResult]
    scores: list[FewShotScore]
    threshold: float | None = None


def train_fewshot(
    data: str | Path | None = None,
    config: FewShotConfig | None = None,
    resume: str | Path | None = None,
    **overrides: Any,
) -> FewShotResult:
    """Fine-tune a backbone for few-shot use and compare it with frozen prototypes.

    >>> res = train_fewshot("data/fmnist", method="protonet", classes=BASE, eval_classes=NOVEL)
    >>> print(score_table(res.scores))

    ``resume=RUN_DIR`` continues an interrupted run exactly.
    """
    if resume is not None:
        return _resume(Path(resume), **overrides)
    cfg = dataclasses.replace(config or FewShotConfig(), **overrides)
    cfg.data = str(data) if data is not None else cfg.data
    job = FewShotJob(cfg)
    name = cfg.name or f"{Path(cfg.data).name}-{cfg.method}"
    outcome = engine.fit(job, cfg.out, name)
    return job.result(outcome)


def _resume(run_dir: Path, **overrides: Any) -> FewShotResult:
    def build(config: dict[str, Any], progress: bool) -> FewShotJob:
        return FewShotJob(dataclasses.replace(FewShotConfig(**config), progress=progress))

    outcome, job = engine.resume_job(run_dir, build, overrides, extendable=lambda c: True)
    if isinstance(job, FewShotJob):
        return job.result(outcome)
    scores = [FewShotScore(**s) for s in outcome.summary.get("fewshot_eval", [])]
    return FewShotResult(run_dir, outcome.history, scores, outcome.summary.get("threshold"))


class FewShotTask(ClassifierTask):
    """The loop's view of a few-shot run: one phase over episodes (prototypical loss) or pairs
    (contrastive loss) of cached prefix activations."""

    def __init__(self, job: FewShotJob):
        self.job = job
        cfg = job.cfg
        self.criterion = nn.CrossEntropyLoss()
        self.net: nn.Module
        acts, labels, shape = job.acts, job.labels, job.split.shape
        if cfg.method == "protonet":
            self.net = EpisodeNet(job.encoder, cfg.metric)
            args = (cfg.ways, cfg.shots, cfg.queries)
            self.train = EpisodeBatches(
                acts["train"], shape, labels["train"], *args, cfg.steps, split="train"
            )
            self.val = EpisodeBatches(
                acts["val"], shape, labels["val"], *args, cfg.val_episodes, cfg.seed + 1, "val"
            )
        else:
            self.net = PairNet(job.encoder, cfg.margin)
            self.train = PairBatches(acts["train"], shape, labels["train"], cfg.pairs, cfg.steps)  # type: ignore[assignment]
            self.val = PairBatches(  # type: ignore[assignment]
                acts["val"], shape, labels["val"], 64, cfg.val_episodes, fixed_seed=cfg.seed + 1
            )

    def phase(self, epoch: int) -> Phase:
        job = self.job
        apply_plan(job.model, job.plan, epoch)
        groups = build_param_groups(job.model, job.plan, epoch, job.cfg.weight_decay)
        return Phase(job.cfg.method, self.net, self.train, self.val, groups, job.cfg.steps)

    def set_train_mode(self, epoch: int) -> None:
        set_train_mode(self.job.model, self.job.plan, epoch)  # frozen BN stays in eval mode

    def step(self, module: nn.Module, batch: Any) -> StepOutput:
        if not isinstance(self.net, PairNet):
            return self.classify(module, batch)
        pair, same = batch
        d = self.net.distance(pair)
        return StepOutput(contrastive_loss(d, same, self.net.margin), self.net.logits(d), same)

    def eval_step(self, module: nn.Module, batch: Any) -> StepOutput:
        if not isinstance(self.net, PairNet):
            return self.classify(module, batch)
        pair, same = batch
        logits = module(pair)
        d = self.net.distance_from_logits(logits)
        return StepOutput(contrastive_loss(d, same, self.net.margin), logits, same)


class FewShotJob(engine.Job):
    """One few-shot run: backbone (+ Siamese head), the plan of its top groups, the frozen
    prefix's cached activations of the train and val images."""

    kind = "fewshot"
    write_report = True

    def __init__(self, cfg: FewShotConfig):
        if cfg.method not in METHODS:
            raise HeadstartError(f"--method '{cfg.method}': choose protonet or siamese")
        if not cfg.data:
            raise HeadstartError("no data given: pass a folder with train/ and val/")
        try:
            cfg.eval_shots = [int(k) for k in cfg.eval_shots]  # the CLI gives strings
        except ValueError:
            raise HeadstartError(f"--eval-shots {cfg.eval_shots}: give numbers, e.g. 1,5") from None
        self.cfg = self.config = cfg
        self.unit = "episodes" if cfg.method == "protonet" else "pairs"
        self.threshold: float | None = None

    def prepare(self) -> None:
        cfg = self.cfg
        items = {s: labelled_items(cfg.data, s, cfg.classes) for s in ("train", "val")}
        names = sorted({it.label for it in items["train"]})
        self.classes = tuple(names)
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.backbone = load_backbone(cfg.backbone, cfg.weights)
        size = self.backbone.data_config["input_size"]
        probe = extraction_probe(self.backbone, self.device)
        n_images = sum(len(its) for its in items.values())  # the pass over them dominates
        self.dtype = choose_precision(cfg.precision, self.device, probe, n_images)
        head: nn.Module = (
            nn.Identity()
            if cfg.method == "protonet"
            else projection_head(self.backbone.num_features, cfg.embed_dim)
        )
        self.model = TransferModel(self.backbone.body, head).to(self.device)
        self.plan = fewshot_plan(self.backbone, self.model, cfg)
        apply_plan(self.model, self.plan, 0)
        trainable = [n.removeprefix("body.") for g in self.plan.trainable(0) for n in g.params]
        self.split = split_body(self.backbone.body, trainable, size)
        self.acts = {s: self._activations(it) for s, it in items.items()}
        self.labels = {
            s: np.array([names.index(it.label) for it in its]) for s, its in items.items()
        }
        self.encoder = nn.Sequential(self.split.suffix, head)
        self.task = FewShotTask(self)

    def _activations(self, items: list[Any]) -> torch.Tensor:
        tf = eval_transform(self.backbone.data_config)
        files = [it.path for it in items]
        samples = [Sample(f, "") for f in files]
        run = Extraction(self.device, self.dtype, progress=self.cfg.progress, desc="frozen prefix")
        return prefix_activations(
            self.split, self.backbone.name, samples, ImageFiles(files, tf), tf, run
        )

    def describe(self) -> list[str]:
        return [
            f"data: {self.cfg.data}  {len(self.classes)} training classes; method "
            f"{self.cfg.method}",
            f"backbone: {self.backbone.name} ({self.backbone.weights_source}); device "
            f"{self.device}, precision {precision_name(self.dtype)}",
            self.plan.table(),
            f"  frozen prefix cached up to {self.split.where}",
        ]

    def make_task(self) -> FewShotTask:
        return self.task

    def training(self) -> AbstractContextManager[Any]:
        return fast_convolutions(self.backbone.body, tuple(self.backbone.data_config["input_size"]))

    def meta(self) -> CheckpointMeta:
        cfg, bb = self.cfg, self.backbone
        head_dim = None if isinstance(self.model.head, nn.Identity) else int(cfg.embed_dim)
        return CheckpointMeta(
            task=TASK_PREFIX + cfg.method,
            classes=list(self.classes),
            backbone=bb.describe(),
            head={"projection_dim": head_dim},
            strategy=self.plan.strategy,
            plan=self.plan.to_dict(),
            precision=precision_name(self.dtype),
            config=dataclasses.asdict(cfg),
            versions=versions("timm"),
            extra={
                "metric": cfg.metric,
                "margin": cfg.margin,
                "threshold": self.threshold,
                "split_at": self.split.where,
            },
        )

    def conclude(self, outcome: engine.Outcome) -> dict[str, Any]:
        """A Siamese model's distance threshold (calibrated for each checkpoint's weights on
        validation pairs), then the few-shot evaluation of the frozen backbone and the best
        checkpoint on the same episodes."""
        cfg, run_dir = self.cfg, outcome.run_dir
        if isinstance(self.task.net, PairNet):
            self._calibrate_checkpoints(run_dir)
        encoders = [
            backbone_encoder(cfg.backbone, cfg.weights, cfg.device, cfg.precision),
            fewshot_encoder(run_dir, cfg.device, cfg.precision),
        ]
        self.scores = evaluate_fewshot(
            cfg.data, encoders, cfg.eval_ways, cfg.eval_shots, cfg.eval_queries,
            cfg.eval_episodes, "val", cfg.eval_classes, cfg.metric, cfg.seed, cfg.progress,
        )  # fmt: skip
        write_json_atomic(run_dir / "fewshot_eval.json", [s.to_dict() for s in self.scores])
        write_text_atomic(run_dir / "fewshot_eval.txt", score_table(self.scores) + "\n")
        return {"fewshot_eval": [s.to_dict() for s in self.scores], "threshold": self.threshold}

    def _calibrate_checkpoints(self, run_dir: Path) -> None:
        """Each checkpoint's threshold, for its own weights. The run's threshold is that of
        ``best`` (the model that is evaluated and verified with); the model keeps ``last``'s
        weights."""
        folder = run_dir / "checkpoints"
        for which in ("last", "best"):
            file = folder / f"{which}.safetensors"
            meta = read_meta(file)
            self.model.load_state_dict(read_tensors(file))
            meta.extra["threshold"] = self.threshold = self._calibrate()
            save_checkpoint(file, read_tensors(file), meta, read_optimizer_state(file))
        self.model.load_state_dict(read_tensors(folder / "last.safetensors"))

    @torch.no_grad()
    def _calibrate(self) -> float:
        """The distance threshold with the best same/different accuracy on validation pairs."""
        net = self.task.net
        assert isinstance(net, PairNet)
        net.eval()
        distances, same = [], []
        pairs = PairBatches(
            self.acts["val"], self.split.shape, self.labels["val"], 100, 10,
            fixed_seed=self.cfg.seed + 2,
        )  # fmt: skip
        for pair, y in pairs:
            distances.append(net.distance({k: v.to(self.device) for k, v in pair.items()}).cpu())
            same.append(y)
        d, s = torch.cat(distances).numpy(), torch.cat(same).numpy()
        candidates = np.unique(d)
        accs = [((d <= t) == (s == 1)).mean() for t in candidates]
        return float(candidates[int(np.argmax(accs))])

    def report(self, outcome: engine.Outcome) -> None:
        write_fewshot_report(self, outcome)

    def result(self, outcome: engine.Outcome) -> FewShotResult:
        return FewShotResult(
            outcome.run_dir, outcome.history, getattr(self, "scores", []), self.threshold
        )


def fewshot_plan(backbone: Backbone, model: TransferModel, cfg: FewShotConfig) -> Any:
    """``partial:N`` over the backbone's groups (N = ``train_groups``), the head at head_lr."""
    n = max(1, min(cfg.train_groups, len(backbone.groups)))
    lr, head_lr = resolve_lrs("fewshot", "partial", cfg.lr, cfg.head_lr)
    return make_plan(
        f"partial:{n}",
        backbone.parts(),
        [Part.of("head", model.head, "head.")],
        cfg.epochs,
        PlanOptions(lr=lr, head_lr=head_lr, pretrained=cfg.weights != "random"),
    )
