"""``fit_text``: train a text classifier with a strategy, writing a run directory.

The run directory has the same shape as an image run (``config.yaml``, ``metrics.csv``,
``checkpoints/{best,last}.safetensors`` + ``.json``, ``curves.png``, confusion matrix,
``summary.json``). A checkpoint holds only what trained (head, adapter or whole encoder);
the frozen base weights are re-read from the model source and checked by fingerprint.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from headstart.backbones import fingerprint
from headstart.classify.task import class_weights
from headstart.config import dump_config
from headstart.engine.checkpoint import save_checkpoint
from headstart.engine.loop import EpochResult, Loop, LoopConfig, seed_everything
from headstart.engine.precision import precision_name, resolve_device, resolve_precision
from headstart.engine.rundir import new_run_dir
from headstart.errors import BackboneError, HeadstartError
from headstart.io import write_text_atomic
from headstart.text.config import TextConfig
from headstart.text.data import TextData
from headstart.text.model import (
    build_classifier,
    count_parameters,
    load_pretrained,
    resolve_model,
    trainable_state,
)
from headstart.text.task import (
    EmbeddingCache,
    TextClassificationTask,
    TextInputs,
    param_groups,
    tokenize,
)
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

    @property
    def final(self) -> EpochResult:
        return self.history[-1]


def load_data(cfg: TextConfig) -> TextData:
    if not cfg.data:
        raise HeadstartError("no data given: pass a .csv, .tsv or .jsonl file")
    return TextData.from_files(
        cfg.data, cfg.val, cfg.text_col, cfg.label_col, cfg.split_col, cfg.val_fraction, cfg.seed
    )


def fit_text(
    data: TextData | str | Path | None = None,
    config: TextConfig | None = None,
    run_dir: str | Path | None = None,
    **overrides: Any,
) -> TextFitResult:
    """Train a text classifier and write a run directory (``runs/text/NAME``).

    >>> r = fit_text("data/rt.csv", text_col="review", strategy="lora", epochs=3)
    >>> r.best["val_acc"], r.run_dir
    """
    cfg = dataclasses.replace(config or TextConfig(), **overrides)
    if isinstance(data, str | Path):
        cfg.data = str(data)
    text_data = data if isinstance(data, TextData) else load_data(cfg)
    trainer = TextTrainer(cfg, text_data)
    trainer.prepare()
    if run_dir is None:
        name = cfg.name or f"{Path(cfg.data or 'data').stem}-{cfg.strategy}"
        run_dir = new_run_dir(cfg.out, "text", name)
    else:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    return trainer.run(Path(run_dir))


class TextTrainer:
    """One run, in order: prepare (tokenizer, model, strategy, tokens), then run."""

    def __init__(self, cfg: TextConfig, data: TextData):
        self.cfg = cfg
        self.data = data
        self.cache = EmbeddingCache(
            Path(cfg.cache_dir) / "text-features" if cfg.cache_dir else None
        )

    def prepare(self) -> None:
        cfg = self.cfg
        self.start = time.perf_counter()
        self.device = resolve_device(cfg.device)
        self.dtype = resolve_precision(cfg.precision, self.device)
        self.source = resolve_model(cfg.model)
        self.tokenizer, encoder = load_pretrained(self.source)
        self.max_length = check_max_length(cfg.max_length, encoder)
        self.weights_id = fingerprint(encoder)
        seed_everything(cfg.seed)  # the head's and the adapter's initial values
        self.model, self.peft = build_classifier(encoder, len(self.data.classes), cfg)
        self.model.to(self.device)
        self.lr, self.head_lr = cfg.resolved_lrs()
        self.trainable, self.total = count_parameters(self.model)
        self.tokens = {
            split: tokenize(
                self.tokenizer, self.data.texts(split), self.max_length, f"{split} texts"
            )
            for split in ("train", "val")
        }

    def _inputs(self) -> TextInputs:
        embeddings = None
        if self.cfg.strategy == "frozen":
            store: dict[str, np.ndarray] = {}

            def embeddings(split: str) -> np.ndarray:
                if split not in store:
                    store[split] = self.cache.embeddings(
                        self.model,
                        f"{self.source}:{self.weights_id}",
                        self.tokens[split],
                        self.tokenizer,
                        self.device,
                        self.dtype,
                        self.cfg.progress,
                        f"{split} embeddings",
                    )
                return store[split]

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

    def plan_table(self, groups: list[dict[str, Any]]) -> str:
        lines = [
            f"strategy: {self.cfg.strategy}  trainable {self.trainable:,} of "
            f"{self.total:,} parameters ({100 * self.trainable / self.total:.3f}%)",
            f"  {'group':<26} {'params':>12} {'lr':>9} {'wd':>6}",
        ]
        for g in groups:
            n = sum(p.numel() for p in g["params"])
            lines.append(f"  {g['name']:<26} {n:>12,} {g['lr']:>9.2e} {g['weight_decay']:>6.3f}")
        return "\n".join(lines)

    def run(self, run_dir: Path) -> TextFitResult:
        cfg = self.cfg
        write_text_atomic(run_dir / "config.yaml", dump_config(cfg))
        part = "encoder" if cfg.strategy == "full" else f"adapter ({cfg.strategy})"
        groups = param_groups(self.model, self.lr, self.head_lr, cfg.weight_decay, part)
        self.groups_table = self.plan_table(groups)
        task = TextClassificationTask(self.model, self._inputs(), groups, self._loss())
        from headstart.text.outputs import TextRunWriter

        writer = TextRunWriter(run_dir, self)
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
                progress=cfg.progress,
            ),
            callbacks=[writer],
        )
        loop.run()
        writer.finish(loop)
        return TextFitResult(
            run_dir,
            loop.history,
            writer.best,
            self.data.classes,
            self.trainable,
            self.total,
            time.perf_counter() - self.start,
            self.cache.info(),
        )

    def checkpoint_meta(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "task": TASK,
            "classes": list(self.data.classes),
            "model": {"name": cfg.model, "source": self.source, "fingerprint": self.weights_id},
            "strategy": cfg.strategy,
            "peft": self.peft,
            "max_length": self.max_length,
            "head": {"dropout": cfg.dropout},
            "lrs": {"encoder": self.lr, "head": self.head_lr},
            "params": {"trainable": self.trainable, "total": self.total},
            "precision": precision_name(self.dtype),
            "config": cfg.to_dict(),
            "versions": versions("transformers", "peft"),
        }

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        """A checkpoint of what trained. Text runs are not resumed, so no optimizer state
        (it would triple the size of a full fine-tuning checkpoint)."""
        save_checkpoint(path, trainable_state(self.model), {**self.checkpoint_meta(), **meta})


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
