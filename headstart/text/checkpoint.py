"""``TextCheckpoint``: a trained text classifier loaded from its run directory.

The base encoder is re-read from the model source recorded in the checkpoint and checked
against the recorded fingerprint; the adapter (or the whole encoder) and the head come from
the checkpoint. Loading reads tensors and JSON only, never pickled code.

>>> ckpt = TextCheckpoint.load("runs/text/rt-lora")
>>> ckpt.predict(["a joyless, plodding remake"])[0].top
[('rotten', 0.93), ('fresh', 0.07)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.backbones import fingerprint
from headstart.engine.checkpoint import CheckpointMeta, read_meta, read_tensors, resolve_checkpoint
from headstart.engine.precision import resolve_device, resolve_precision
from headstart.errors import CheckpointError, DataError
from headstart.options import POSITIVE_INT, check_option
from headstart.text.config import TextConfig
from headstart.text.data import read_text_file
from headstart.text.job import TASK
from headstart.text.model import (
    TextClassifier,
    build_classifier,
    encoder_parts,
    load_pretrained,
    resolve_model,
)
from headstart.text.task import embed_texts, tokenize


@dataclass
class TextPrediction:
    text: str
    top: list[tuple[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "top": [{"class": c, "prob": p} for c, p in self.top]}


@dataclass
class TextCheckpoint:
    path: Path
    meta: CheckpointMeta
    model: TextClassifier
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype | None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.meta.classes)

    @classmethod
    def load(
        cls, path: str | Path, which: str = "best", device: str = "auto", precision: str = "auto"
    ) -> TextCheckpoint:
        """Load a text run directory or its ``.safetensors`` checkpoint.

        ``precision="auto"`` predicts with the precision the run trained and validated with.
        """
        file = resolve_checkpoint(path, which)
        meta = read_meta(file)
        if meta.task != TASK:
            raise CheckpointError(
                f"{file} is a '{meta.task}' checkpoint, not a text "
                "classifier; use `headstart predict` for image checkpoints"
            )
        name = meta.need("model", file, "name")
        meta.need("max_length", file)
        tokenizer, encoder = load_pretrained(resolve_model(name))
        if fingerprint(encoder) != meta.need("model", file, "fingerprint"):
            raise CheckpointError(
                f"{file} was trained on other weights of '{name}' than the ones "
                "found now; install the model version the run used"
            )
        cfg = TextConfig(strategy=meta.strategy, dropout=float(meta.head.get("dropout", 0.0)))
        model, _ = build_classifier(encoder, len(meta.classes), cfg, meta.peft)
        _load_trained(model, read_tensors(file), file)
        dev = resolve_device(device)
        model.to(dev).eval()
        dtype = resolve_precision(meta.precision_for(precision), dev)
        return cls(file, meta, model, tokenizer, dev, dtype)

    @torch.no_grad()
    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(n, classes)`` in the order of ``texts``."""
        features = tokenize(self.tokenizer, texts, int(self.meta.max_length or 512), "texts")
        emb = embed_texts(
            self.model, features, self.tokenizer, self.device, self.dtype, batch_size=batch_size
        )
        logits = self.model.head(torch.from_numpy(emb).to(self.device))
        return logits.float().softmax(1).cpu().numpy()

    def predict(self, texts: Sequence[str], top_k: int = 2) -> list[TextPrediction]:
        """Top-k classes with probabilities for each text."""
        texts = list(texts)
        empty = [i + 1 for i, t in enumerate(texts) if not str(t).strip()]
        if empty:
            raise DataError(
                f"text number(s) {', '.join(map(str, empty[:10]))} are empty; "
                "give some words to classify"
            )
        if not texts:
            raise DataError("no texts to classify")
        probs = self.probabilities(texts)
        k = min(check_option("top_k", top_k, POSITIVE_INT), len(self.classes))
        out = []
        for text, p in zip(texts, probs):
            order = np.argsort(-p)[:k]
            out.append(TextPrediction(text, [(self.classes[i], float(p[i])) for i in order]))
        return out


def _load_trained(model: TextClassifier, tensors: dict[str, torch.Tensor], file: Path) -> None:
    """Load the stored (trained) tensors: every one must find its parameter, and the head's
    and the adapter's must all be there."""
    wanted = {n for n, _ in model.head.named_parameters(prefix="head")}
    _, adapter = encoder_parts(model)
    wanted |= set(adapter.params if adapter else ())
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError:  # a tensor of the wrong shape
        raise CheckpointError(
            f"{file} does not match its declared model and strategy; "
            "the file is damaged or was edited"
        ) from None
    missing = wanted - set(tensors)
    if result.unexpected_keys or missing:
        raise CheckpointError(
            f"{file} does not match its declared model and strategy "
            f"({len(result.unexpected_keys)} unknown, {len(missing)} missing tensors); "
            "the file is damaged or was edited"
        )


def read_lines(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file: one text per line."""
    return [line.strip() for line in read_text_file(path).splitlines() if line.strip()]
