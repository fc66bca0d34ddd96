"""``fit``: train an image classifier with a strategy, writing a complete run directory."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.backbones import TransferModel, count_params, fingerprint, load_backbone, make_head
from headstart.classify.task import ImageClassificationTask, Inputs, class_weights, default_workers
from headstart.config import TrainConfig, dump_config
from headstart.data.imagedata import ImageData
from headstart.data.transforms import eval_transform, train_transform
from headstart.engine import distributed
from headstart.engine.checkpoint import (
    read_meta,
    read_optimizer_state,
    read_tensors,
    save_checkpoint,
)
from headstart.engine.convs import fast_convolutions
from headstart.engine.loop import Callback, EpochResult, Loop, LoopConfig
from headstart.engine.precision import (
    channels_last,
    eval_batch_size,
    resolve_device,
    resolve_precision,
)
from headstart.engine.rundir import new_run_dir, write_csv_atomic
from headstart.errors import HeadstartError
from headstart.features.cache import FeatureCache
from headstart.io import write_json_atomic, write_text_atomic
from headstart.strategies import Plan, make_plan
from headstart.versions import versions


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


def build_model(cfg: TrainConfig, n_classes: int) -> tuple[TransferModel, Any]:
    """Backbone (pretrained, or random for ``scratch``) plus a new head for ``n_classes``."""
    scratch = cfg.strategy.split(":")[0] == "scratch"
    backbone = load_backbone(cfg.backbone, "random" if scratch else cfg.weights)
    head = make_head(backbone.num_features, n_classes, cfg.head_hidden, cfg.dropout)
    return TransferModel(backbone.body, head), backbone


def fit(
    data: ImageData | str | Path | None = None,
    config: TrainConfig | None = None,
    resume: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    **overrides: Any,
) -> FitResult:
    """Train an image classifier and write a run directory.

    >>> result = fit("data/fmnist", strategy="feature-extraction", epochs=5)
    >>> result.best["val_acc"], result.run_dir
    """
    if resume is not None:
        return _resume(Path(resume), progress=overrides.get("progress", True))
    cfg = dataclasses.replace(config or TrainConfig(), **overrides)
    if isinstance(data, str | Path):
        cfg.data = str(data)
    if data is None or isinstance(data, str | Path):
        if not cfg.data:
            raise HeadstartError("no data given: pass a data folder")
        data = ImageData.from_folder(cfg.data, cfg.val_fraction, cfg.seed, cfg.classes)
    name = cfg.name or f"{Path(cfg.data or 'data').name}-{cfg.strategy.replace(':', '')}"
    if cfg.strategy == "auto":
        cfg = _resolve_auto(cfg, data)
    trainer = _Trainer(cfg, data)
    trainer.prepare()
    # Under torchrun the main process creates the run directory and tells the others.
    run_dir = distributed.broadcast_object(
        new_run_dir(cfg.out, "train", name) if distributed.is_main() else None
    )
    return trainer.run(run_dir, callbacks=callbacks)


def _resolve_auto(cfg: TrainConfig, data: ImageData) -> TrainConfig:
    """``--strategy auto``: the recommended strategy and settings (the given epochs are kept)."""
    from headstart.recommend import recommend

    rec = recommend(data, backbone=cfg.backbone, weights=cfg.weights, epochs=cfg.epochs, config=cfg)
    if distributed.is_main():
        print(f"auto: {rec.strategy}. " + " ".join(rec.reasons))
    return dataclasses.replace(cfg, strategy=rec.strategy, **rec.overrides)


def _resume(run_dir: Path, progress: bool) -> FitResult:
    cfg_path = run_dir / "config.yaml"
    last = run_dir / "checkpoints" / "last.safetensors"
    if not cfg_path.is_file() or not last.is_file():
        raise HeadstartError(f"cannot resume {run_dir}: it has no config.yaml and checkpoints/last")
    import yaml

    cfg = TrainConfig(**yaml.safe_load(cfg_path.read_text(encoding="utf-8")))
    cfg.progress = progress
    data = ImageData.from_folder(cfg.data, cfg.val_fraction, cfg.seed, cfg.classes)
    meta = read_meta(last)
    if tuple(meta["classes"]) != data.classes:
        raise HeadstartError(f"cannot resume {run_dir}: the classes of {cfg.data} changed")
    trainer = _Trainer(cfg, data)
    trainer.prepare()
    trainer.model.load_state_dict(read_tensors(last))
    state = {
        "epoch": meta["epoch"],
        "optimizer": read_optimizer_state(last),
        "history": meta.get("history", []),
        "best": meta.get("best", {}),
    }
    return trainer.run(run_dir, resume_state=state)


class _Trainer:
    """The steps of one run, in order: prepare (check, build, plan), then run."""

    def __init__(self, cfg: TrainConfig, data: ImageData):
        self.cfg = cfg
        self.data = data

    def prepare(self) -> None:
        cfg, data = self.cfg, self.data
        data.check_images(skip_bad=cfg.skip_bad)
        torch.manual_seed(cfg.seed)  # the new head's init
        self.device = distributed.setup(resolve_device(cfg.device))  # torchrun: join the group
        distributed.per_process_batch(cfg.batch_size)
        self.dtype = resolve_precision(cfg.precision, self.device)
        self.model, self.backbone = build_model(cfg, len(data.classes))
        groups = self.backbone.groups
        self.groups = [g.params for g in groups]
        self.plan = make_plan(
            cfg.strategy,
            [g.name for g in groups],
            [sum(self._numel(p) for p in g.params) for g in groups],
            count_params(self.model.head),
            cfg.epochs,
            cfg.plan_options(),
        )
        self.preflight()
        self.model.to(self.device)
        self.cl = channels_last(self.device, self.dtype)
        if self.cl:
            self.model.to(memory_format=torch.channels_last)

    def preflight(self) -> None:
        """The doctor's checks of this run's own set-up: warnings, or errors with ``strict``."""
        from headstart.doctor.finding import has_errors
        from headstart.doctor.preflight import check_training_setup

        findings = check_training_setup(self)
        for f in findings:
            print(f"headstart: {f.level}: [{f.code}] {f.message}", file=sys.stderr)
        if has_errors(findings) or (self.cfg.strict and findings):
            raise HeadstartError(
                f"{len(findings)} problem(s) found before training (listed above); "
                + ("fix them or run without --strict" if not has_errors(findings) else "fix them")
            )

    def _numel(self, pname: str) -> int:
        return self.backbone.body.get_parameter(pname).numel()

    def _inputs(self) -> Inputs:
        cfg, data, bb = self.cfg, self.data, self.backbone
        eval_tf = eval_transform(bb.data_config)
        cache = FeatureCache(Path(cfg.cache_dir) / "features" if cfg.cache_dir else None)
        self.cache = cache
        weights_id = fingerprint(bb.body) if self.plan.pretrained else None
        store: dict[str, np.ndarray] = {}

        def features(split: str) -> np.ndarray:
            if split not in store:
                store[split] = cache.features(
                    bb.body,
                    f"{bb.name}:{weights_id}",
                    getattr(data, split),
                    data.dataset(split, eval_tf),
                    eval_tf,
                    self.device,
                    self.dtype,
                    num_workers=default_workers(cfg.num_workers),
                    progress=cfg.progress,
                    desc=f"{split} features",
                )
            return store[split]

        return Inputs(
            data,
            train_transform(bb.data_config, cfg.augment),
            eval_tf,
            cfg.batch_size,
            default_workers(cfg.num_workers),
            cfg.balanced_sampling,
            features if self.plan.pretrained else None,
            eval_batch_size(self.device),
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

    def run(
        self, run_dir: Path, resume_state: dict | None = None, callbacks: Sequence[Callback] = ()
    ) -> FitResult:
        import time

        from headstart.classify.outputs import RunWriter

        cfg = self.cfg
        start = time.perf_counter()
        if distributed.is_main():
            write_text_atomic(run_dir / "config.yaml", dump_config(cfg))
        if self.data.skipped and distributed.is_main():
            write_json_atomic(
                run_dir / "skipped_images.json",
                [{"path": p, "error": e} for p, e in self.data.skipped],
            )
        task = ImageClassificationTask(
            self.model,
            self.plan,
            self.groups,
            self._inputs(),
            cfg.weight_decay,
            self._loss(),
            self.cl,
        )
        writer = RunWriter(run_dir, self, resume_state)
        writer.announce()
        loop = Loop(
            task,
            LoopConfig(
                epochs=cfg.epochs,
                seed=cfg.seed,
                warmup_epochs=cfg.warmup_epochs,
                schedule=cfg.schedule,
                device=self.device,
                dtype=self.dtype,
                patience=cfg.patience,
                progress=cfg.progress,
            ),
            callbacks=[writer, *callbacks],
        )
        loop.history = writer.previous_history()
        start_epoch = resume_state["epoch"] if resume_state else 0
        try:
            with self._fast_convolutions():
                loop.run(start_epoch, resume_state["optimizer"] if resume_state else None)
        except KeyboardInterrupt:
            print(
                f"interrupted; continue with: headstart train --resume {run_dir}", file=sys.stderr
            )
            raise
        writer.finish(loop)
        return FitResult(
            run_dir,
            self.plan,
            loop.history,
            writer.best,
            self.data.classes,
            self.cache.info(),
            time.perf_counter() - start,
            trainable_params=sum(g.n_params for g in self.plan.trainable(len(loop.history) - 1)),
            total_params=count_params(self.model),
        )

    def _fast_convolutions(self) -> AbstractContextManager[Any]:
        """Frozen batch norms folded into their convolutions and depthwise backward in fp32 on
        a CPU (``engine/convs.py``) while the body trains; not needed when only the head trains
        on cached features."""
        if all(self.plan.head_only(e) for e in range(self.cfg.epochs)):
            return nullcontext()
        size = tuple(self.backbone.data_config["input_size"])
        return fast_convolutions(self.model.body, size, self.cl)

    def checkpoint_meta(self) -> dict[str, Any]:
        bb = self.backbone
        return {
            "task": "image-classification",
            "classes": list(self.data.classes),
            "backbone": {
                "name": bb.name,
                "weights_source": bb.weights_source,
                "num_features": bb.num_features,
                "data_config": bb.data_config,
            },
            "head": {"hidden": self.cfg.head_hidden, "dropout": self.cfg.dropout},
            "plan": self.plan.to_dict(),
            "config": self.cfg.to_dict(),
            "versions": versions("timm"),
        }

    def save(self, path: Path, meta: dict[str, Any], optimizer_state: dict | None) -> None:
        state = {k: v for k, v in self.model.state_dict().items()}
        save_checkpoint(path, state, {**self.checkpoint_meta(), **meta}, optimizer_state)

    def write_metrics(self, run_dir: Path, history: list[EpochResult]) -> None:
        write_csv_atomic(run_dir / "metrics.csv", [r.row() for r in history])
