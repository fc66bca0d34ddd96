"""``TextJob``: one text-classification run, the task's side of the engine's run.

It loads the tokenizer and encoder, wraps it for the strategy, plans its layer groups and
tokenizes the texts once. A checkpoint holds only what trains at some epoch (head, adapter,
the encoder layers of the plan); the frozen base weights are re-read from the model source and
checked by fingerprint.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.backbones import fingerprint
from headstart.classify.task import class_weights
from headstart.data.hf import is_hf
from headstart.engine import distributed
from headstart.engine import run as engine
from headstart.engine.checkpoint import CheckpointMeta, read_tensors
from headstart.engine.dropout import fast_dropout
from headstart.engine.loop import EpochResult, seed_everything
from headstart.engine.precision import precision_name, resolve_device, resolve_precision
from headstart.errors import BackboneError, HeadstartError
from headstart.strategies import Part, Plan, make_plan
from headstart.text.config import TextConfig
from headstart.text.data import TextData
from headstart.text.interop import export_peft
from headstart.text.model import (
    TextClassifier,
    build_classifier,
    encoder_parts,
    load_pretrained,
    resolve_model,
)
from headstart.text.report import write_text_run_report
from headstart.text.task import EmbeddingCache, TextClassificationTask, TextInputs, tokenize
from headstart.versions import versions

TASK = "text-classification"


@dataclass
class TextFitResult:
    run_dir: Path
    history: list[EpochResult]
    best: dict[str, Any]
    classes: tuple[str, ...]
    trainable_params: int
    total_params: int
    seconds: float
    cache: dict[str, int] = field(default_factory=dict)
    plan: Plan | None = None

    @property
    def final(self) -> EpochResult:
        return self.history[-1]


def load_data(cfg: TextConfig) -> TextData:
    if not cfg.data:
        raise HeadstartError("no data given: pass a .csv, .tsv or .jsonl file or hf:NAME_OR_DIR")
    if is_hf(cfg.data):
        return TextData.from_hf(cfg.data, cfg.text_col, cfg.label_col, cfg.val_fraction, cfg.seed)
    return TextData.from_files(
        cfg.data, cfg.val, cfg.text_col, cfg.label_col, cfg.split_col, cfg.val_fraction, cfg.seed
    )


class TextJob(engine.Job):
    """One text-classification run: tokenizer, encoder (+ adapter) and head, plan, tokens."""

    kind = "text"
    unit = "texts"
    model: TextClassifier
    write_report = True

    def __init__(self, cfg: TextConfig, data: TextData):
        self.cfg = self.config = cfg
        self.data = data
        self.classes = data.classes
        self.cache = EmbeddingCache(
            Path(cfg.cache_dir) / "text-features" if cfg.cache_dir else None
        )

    def prepare(self) -> None:
        cfg = self.cfg
        self.device = distributed.setup(resolve_device(cfg.device))  # torchrun: join the group
        distributed.per_process_batch(cfg.batch_size)
        self.dtype = resolve_precision(cfg.precision, self.device)
        self.source = resolve_model(cfg.model)
        self.tokenizer, encoder = load_pretrained(self.source)
        self.max_length = check_max_length(cfg.max_length, encoder)
        self.weights_id = fingerprint(encoder)
        seed_everything(cfg.seed)  # the head's and the adapter's initial values
        self.model, self.peft = build_classifier(encoder, len(self.data.classes), cfg)
        layers, adapter = encoder_parts(self.model, cfg.strategy if cfg.adapter else "")
        self.plan = make_plan(
            cfg.strategy,
            layers,
            [Part.of("head", self.model.head, "head.")],
            cfg.epochs,
            cfg.plan_options(),
            adapter=adapter,
        )
        self.model.to(self.device)
        self.tokens = {
            split: tokenize(
                self.tokenizer, self.data.texts(split), self.max_length, f"{split} texts"
            )
            for split in ("train", "val")
        }

    def training(self) -> AbstractContextManager[Any]:
        """Dropout's CPU masks from cheaper random numbers (``engine/dropout.py``): MiniLM on
        2,000 Rotten Tomatoes texts, 2 epochs, went from 104.7 to 117.3 texts/s with LoRA and
        from 100.2 to 105.5 with full fine-tuning (``benchmarks/peers.py``'s runs)."""
        return fast_dropout(self.model)

    def describe(self) -> list[str]:
        counts, data = self.data.counts("train"), self.data
        return [
            f"data: {data.source}  {len(data.classes)} classes, {len(data.train_texts)} train / "
            f"{len(data.val_texts)} val texts; per class {min(counts.values())}-"
            f"{max(counts.values())}",
            f"model: {self.cfg.model} ({self.source}); max length {self.max_length} tokens; "
            f"device {self.device}, precision {precision_name(self.dtype)}",
            self.plan.table(),
        ]

    def make_task(self) -> TextClassificationTask:
        return TextClassificationTask(
            self.model, self.plan, self._inputs(), self.cfg.weight_decay, self._loss()
        )

    def _inputs(self) -> TextInputs:
        @functools.cache  # each split once per task
        def embeddings(split: str) -> np.ndarray:
            return self.cache.embeddings(
                self.model,
                f"{self.source}:{self.weights_id}",
                self.tokens[split],
                self.tokenizer,
                self.device,
                self.dtype,
                self.cfg.progress,
                f"{split} embeddings",
            )

        return TextInputs(
            self.tokens["train"],
            self.tokens["val"],
            self.data.labels("train"),
            self.data.labels("val"),
            self.tokenizer,
            self.cfg.batch_size,
            embeddings,
            self.cfg.group_by_length,
        )

    def _loss(self) -> nn.Module:
        w = (
            class_weights(self.data.labels("train"), len(self.data.classes))
            if self.cfg.class_weights
            else None
        )
        return nn.CrossEntropyLoss(weight=w.to(self.device) if w is not None else None)

    def meta(self) -> CheckpointMeta:
        cfg = self.cfg
        return CheckpointMeta(
            task=TASK,
            classes=list(self.data.classes),
            model={"name": cfg.model, "source": self.source, "fingerprint": self.weights_id},
            head={"dropout": cfg.dropout},
            strategy=cfg.strategy,
            plan=self.plan.to_dict(),
            peft=self.peft,
            max_length=self.max_length,
            precision=precision_name(self.dtype),
            config=cfg.to_dict(),
            versions=versions("transformers", "peft"),
        )

    def state(self) -> dict[str, torch.Tensor]:
        """What trains at some epoch of the plan (head, adapter, planned encoder layers)."""
        names = {n for g in self.plan.groups if g.unfreeze_epoch is not None for n in g.params}
        return {n: p.detach() for n, p in self.model.named_parameters() if n in names}

    def load_state(self, tensors: dict[str, torch.Tensor], extra: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(tensors, strict=False)

    def conclude(self, outcome: engine.Outcome) -> dict[str, Any]:
        """An adapter run's best checkpoint saved the PEFT way too (``RUN/peft/``)."""
        best = outcome.run_dir / "checkpoints" / "best.safetensors"
        if best.is_file():
            export_peft(
                outcome.run_dir, self.model, self.tokenizer, read_tensors(best), self.classes,
                self.max_length,
            )  # fmt: skip
        return {}

    def report(self, outcome: engine.Outcome) -> None:
        write_text_run_report(self, outcome)

    def result(self, outcome: engine.Outcome) -> TextFitResult:
        last = len(outcome.history) - 1
        return TextFitResult(
            outcome.run_dir,
            outcome.history,
            outcome.best,
            self.data.classes,
            self.plan.n_trainable(last),
            sum(g.n_params for g in self.plan.groups),
            outcome.seconds,
            self.cache.info(),
            self.plan,
        )


def check_max_length(requested: int, encoder: nn.Module) -> int:
    """``requested``, refused when the model has fewer positions."""
    limit = getattr(encoder.config, "max_position_embeddings", None)
    if isinstance(limit, int) and requested > limit:
        raise HeadstartError(
            f"--max-length {requested} exceeds the {limit} positions of this "
            f"model; use --max-length {limit} or less"
        )
    if requested < 2:
        raise BackboneError("--max-length must leave room for the special tokens (>= 2)")
    return requested
