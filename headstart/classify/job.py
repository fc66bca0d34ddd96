"""``ImageJob``: the image-classification task's side of a run (``engine/run.py``).

It builds the backbone with a new head, the plan and the inputs (cached features for head-only
epochs), and says what its checkpoints hold; the engine does the rest, the same way for every
task.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.backbones import (
    Backbone,
    TransferModel,
    count_params,
    fingerprint,
    load_backbone,
    make_head,
)
from headstart.classify.interop import export_timm
from headstart.classify.report import write_image_report
from headstart.classify.task import ImageClassificationTask, Inputs, class_weights
from headstart.config import TrainConfig
from headstart.cpus import loader_workers
from headstart.data.imagedata import ImageData
from headstart.data.transforms import eval_transform, train_transform
from headstart.doctor.preflight import check_training_setup
from headstart.engine import distributed
from headstart.engine import run as engine
from headstart.engine.checkpoint import CheckpointMeta, read_tensors
from headstart.engine.convs import fast_convolutions
from headstart.engine.loop import EpochResult
from headstart.engine.precision import (
    channels_last,
    eval_batch_size,
    precision_name,
    resolve_device,
)
from headstart.engine.precision_probe import Probe, choose_precision, example_batch, train_probe
from headstart.errors import HeadstartError
from headstart.features.cache import FeatureCache
from headstart.features.extract import Extraction, extraction_probe
from headstart.io import write_json_atomic
from headstart.strategies import Part, Plan, make_plan, parse_strategy
from headstart.versions import versions

TASK = "image-classification"
STRATEGIES = ("feature-extraction", "partial", "full", "progressive", "scratch")
PROBE_BATCH = 8  # images per training step timed by --precision auto: a few seconds at most


@dataclass
class FitResult:
    run_dir: Path
    plan: Plan
    history: list[EpochResult]
    best: dict[str, Any]
    classes: tuple[str, ...]
    cache: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    trainable_params: int = 0  # at the last epoch
    total_params: int = 0

    @property
    def final(self) -> EpochResult:
        return self.history[-1]


def build_model(cfg: TrainConfig, n_classes: int) -> tuple[TransferModel, Backbone]:
    """Backbone (pretrained, or random for ``scratch``) plus a new head for ``n_classes``."""
    scratch = not parse_strategy(cfg.strategy).pretrained
    backbone = load_backbone(cfg.backbone, "random" if scratch else cfg.weights)
    head = make_head(backbone.num_features, n_classes, cfg.head_hidden, cfg.dropout)
    return TransferModel(backbone.body, head), backbone


class ImageJob(engine.Job):
    """One image-classification run: data, backbone + new head, the plan and cached inputs."""

    kind = "train"
    unit = "img"
    model: TransferModel

    def __init__(self, cfg: TrainConfig, data: ImageData, lr_found: Any = None):
        self.cfg = self.config = cfg
        self.data = data
        self.lr_found = lr_found  # --lr find: the range test (classify/lr_find.LRFind)
        self.classes = data.classes
        self.write_report = cfg.report
        self.cache = FeatureCache(Path(cfg.cache_dir) / "features" if cfg.cache_dir else None)

    def prepare(self) -> None:
        cfg, data = self.cfg, self.data
        data.check_images(skip_bad=cfg.skip_bad)
        torch.manual_seed(cfg.seed)  # the new head's init
        self.device = distributed.setup(resolve_device(cfg.device))  # torchrun: join the group
        distributed.per_process_batch(cfg.batch_size)
        self.model, self.backbone = build_model(cfg, len(data.classes))
        self.plan = make_plan(
            cfg.strategy,
            self.backbone.parts(),
            [Part.of("head", self.model.head, "head.")],
            cfg.epochs,
            cfg.plan_options(),
        )
        self.model.to(self.device)
        self.dtype = choose_precision(cfg.precision, self.device, *self._speed_probe())
        self.cl = channels_last(self.device, self.dtype)
        if self.cl:
            self.model.to(memory_format=torch.channels_last)

    def _speed_probe(self) -> tuple[Probe, int]:
        """What ``--precision auto`` times on a CPU (``engine/precision_probe.py``), and how
        many images the run puts through it: a training step where the body trains, else the
        feature pass."""
        bb, data = self.backbone, self.data  # bb.body is the model's body
        if self._head_only():
            return extraction_probe(bb, self.device), len(data.train) + len(data.val)
        size = tuple(bb.data_config["input_size"])
        x = example_batch(min(self.cfg.batch_size, PROBE_BATCH), size, self.device)
        probe = train_probe(bb.name, bb.body, x, lambda m, cl: fast_convolutions(m, size, cl))
        return probe, len(data.train) * self.cfg.epochs

    def _head_only(self) -> bool:
        return all(self.plan.head_only(e) for e in range(self.cfg.epochs))

    def preflight(self) -> list[Any]:
        """The doctor's checks of this run's own set-up (model, plan, transforms, data)."""
        return check_training_setup(self)

    def describe(self) -> list[str]:
        data, bb = self.data, self.backbone
        counts = data.counts("train")
        lines = [
            f"data: {data.root}  {len(data.classes)} classes, {len(data.train)} train / "
            f"{len(data.val)} val images; per class {min(counts.values())}-{max(counts.values())}",
            f"backbone: {bb.name} ({bb.weights_source}); device {self.device}, precision "
            f"{precision_name(self.dtype)}",
            self.plan.table(),
        ]
        if data.skipped:
            lines.append(
                f"skipped {len(data.skipped)} unreadable image(s): listed in skipped_images.json"
            )
        return lines

    def on_start(self, run_dir: Path) -> None:
        if self.lr_found is not None:
            self.lr_found.write(run_dir)  # lr_find.png, .csv, .json
        if self.data.skipped:
            write_json_atomic(
                run_dir / "skipped_images.json",
                [{"path": p, "error": e} for p, e in self.data.skipped],
            )

    def make_task(self) -> ImageClassificationTask:
        return ImageClassificationTask(
            self.model, self.plan, self._inputs(), self.cfg.weight_decay, self._loss(), self.cl
        )

    def _inputs(self) -> Inputs:
        cfg, data, bb = self.cfg, self.data, self.backbone
        eval_tf = eval_transform(bb.data_config)
        weights_id = fingerprint(bb.body) if self.plan.pretrained else None

        @functools.cache  # each split once per task
        def features(split: str) -> np.ndarray:
            return self.cache.features(
                bb.body,
                f"{bb.name}:{weights_id}",
                getattr(data, split),
                data.dataset(split, eval_tf),
                eval_tf,
                Extraction(
                    self.device,
                    self.dtype,
                    num_workers=loader_workers(cfg.num_workers),
                    progress=cfg.progress,
                    desc=f"{split} features",
                ),
            )

        return Inputs(
            data,
            train_transform(bb.data_config, cfg.augment),
            eval_tf,
            cfg.batch_size,
            loader_workers(cfg.num_workers),
            cfg.balanced_sampling,
            features if self.plan.pretrained else None,
            eval_batch_size(self.device),
            cfg.seed,
        )

    def _loss(self) -> nn.Module:
        w = (
            class_weights(self.data.labels("train"), len(self.data.classes))
            if self.cfg.class_weights
            else None
        )
        return nn.CrossEntropyLoss(
            weight=w.to(self.device) if w is not None else None,
            label_smoothing=self.cfg.label_smoothing,
        )

    def training(self) -> AbstractContextManager[Any]:
        """Frozen batch norms folded into their convolutions and depthwise backward in fp32 on
        a CPU (``engine/convs.py``) while the body trains; not needed when only the head trains
        on cached features."""
        if self._head_only():
            return nullcontext()
        size = tuple(self.backbone.data_config["input_size"])
        return fast_convolutions(self.model.body, size, self.cl)

    def meta(self) -> CheckpointMeta:
        bb = self.backbone
        return CheckpointMeta(
            task=TASK,
            classes=list(self.data.classes),
            backbone=bb.describe(),
            head={"hidden": self.cfg.head_hidden, "dropout": self.cfg.dropout},
            strategy=self.plan.strategy,
            plan=self.plan.to_dict(),
            precision=precision_name(self.dtype),
            config=self.cfg.to_dict(),
            versions=versions("timm"),
        )

    def conclude(self, outcome: engine.Outcome) -> dict[str, Any]:
        """The best checkpoint exported for timm (``RUN/timm/``) when the model has a timm
        counterpart."""
        best = outcome.run_dir / "checkpoints" / "best.safetensors"
        if best.is_file():
            export_timm(
                outcome.run_dir,
                self.backbone,
                self.model.head,
                self.data.classes,
                read_tensors(best),
            )
        return {}

    def report(self, outcome: engine.Outcome) -> None:
        write_image_report(self, outcome)

    def result(self, outcome: engine.Outcome) -> FitResult:
        return FitResult(
            outcome.run_dir,
            self.plan,
            outcome.history,
            outcome.best,
            self.data.classes,
            self.cache.info(),
            outcome.seconds,
            trainable_params=self.plan.n_trainable(len(outcome.history) - 1),
            total_params=count_params(self.model),
        )


def load_image_data(cfg: TrainConfig, data: ImageData | str | Path | None = None) -> ImageData:
    """``data`` if it is an ``ImageData``, else what ``data`` (or ``cfg.data``) names: a
    folder, a CSV/JSONL manifest or ``hf:NAME_OR_DIR``."""
    if isinstance(data, ImageData):
        return data
    source = str(data) if data is not None else cfg.data
    if not source:
        raise HeadstartError("no data given: pass a data folder, a manifest or hf:NAME_OR_DIR")
    return ImageData.load(
        source, cfg.val_fraction, cfg.seed, cfg.classes, cfg.image_col, cfg.label_col
    )
