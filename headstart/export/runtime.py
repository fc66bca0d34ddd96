"""Predict from an export folder with ONNX Runtime, NumPy and Pillow (``tokenizers`` for
text runs): no PyTorch, timm or transformers needed.

The folder describes itself (``headstart-export.json``): classes in order, preprocessing or
tokenizer, the run it came from and the figures of the parity check made at export.

>>> from headstart.export.runtime import load_export
>>> model = load_export("runs/train/fmnist-full/export")          # variant="int8" if exported
>>> model.predict_files(["shoe.png"], top_k=2)
[[('ankle_boot', 0.97), ('sneaker', 0.02)]]
>>> load_export("runs/text/rt-lora/export").predict_texts(["a joyless remake"])
[[('rotten', 0.93), ('fresh', 0.07)]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from headstart.cpus import available_cpus
from headstart.data.images import open_image
from headstart.errors import CheckpointError, DataError
from headstart.export.preprocess import to_array

META_FILE = "headstart-export.json"
FORMAT = "headstart-export/1"
IMAGE_TASK = "image-classification"
TEXT_TASK = "text-classification"
TOKENIZER_DIR = "tokenizer"
BATCH = 32  # inputs per session run when predicting many


def read_export_meta(folder: str | Path) -> dict[str, Any]:
    """The export's metadata; a clear error when ``folder`` is not a headstart export."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{folder} is not a headstart export (no {META_FILE}); create one with "
            "`headstart export RUN`"
        )
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path} is damaged (not JSON); export the run again") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


def make_session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU inference session using ``threads`` cores (default: all this process may use)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or available_cpus()
    opts.inter_op_num_threads = 1
    # Waiting threads sleep instead of spinning (as headstart asks of OpenMP, headstart/cpus.py).
    # `benchmarks/run.py contention`, Lite0 body fp32, batch 16, 2 cores: alone 107.5 img/s
    # against 116.1 spinning, beside one busy process 68.8 against 64.2, and on the machine
    # loaded by other jobs (load average 6.9) 50.0 against 41.6 and 31.2 against 24.8.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class ExportedModel:
    """An exported classifier on an ONNX Runtime session (fp32 or int8)."""

    folder: Path
    meta: dict[str, Any]
    variant: str
    session: ort.InferenceSession
    tokenizer: Any = None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.meta["classes"])

    @property
    def task(self) -> str:
        return str(self.meta["task"])

    @classmethod
    def load(
        cls, folder: str | Path, variant: str = "fp32", threads: int | None = None
    ) -> ExportedModel:
        folder = Path(folder)
        meta = read_export_meta(folder)
        models = meta.get("models", {})
        if variant not in models:
            raise CheckpointError(
                f"{folder} has no {variant} model (it has: {', '.join(models) or 'none'}); "
                + ("export with --quantize int8" if variant == "int8" else "export it again")
            )
        session = make_session(folder / models[variant], threads)
        tokenizer = load_tokenizer(folder, meta) if meta["task"] == TEXT_TASK else None
        return cls(folder, meta, variant, session, tokenizer)

    def logits(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Raw logits of one batch (``{"image": x}`` or token ids and attention mask)."""
        out: np.ndarray = self.session.run(["logits"], feeds)[0]
        return out

    def image_probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Class probabilities ``(n, classes)`` for decoded PIL images."""
        prep = self.meta["preprocessing"]
        chunks = [
            softmax(self.logits({"image": to_array(images[i : i + BATCH], prep)}))
            for i in range(0, len(images), BATCH)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.classes)), np.float32)

    def text_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities ``(n, classes)`` for texts."""
        chunks = [
            softmax(self.logits(self.encode(texts[i : i + BATCH])))
            for i in range(0, len(texts), BATCH)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.classes)), np.float32)

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Token ids and attention mask, padded to the longest text of ``texts``."""
        enc = self.tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.asarray([e.ids for e in enc], np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in enc], np.int64),
        }

    def top_k(self, probs: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        k = max(1, min(k, len(self.classes)))
        return [[(self.classes[i], float(p[i])) for i in np.argsort(-p)[:k]] for p in probs]

    def predict_images(
        self, images: Sequence[Image.Image], top_k: int = 3
    ) -> list[list[tuple[str, float]]]:
        return self.top_k(self.image_probabilities(images), top_k)

    def predict_files(
        self, paths: Sequence[str | Path], top_k: int = 3
    ) -> list[list[tuple[str, float]]]:
        """Top-k ``(class, probability)`` for image files, decoded as in training."""
        return self.predict_images([open_image(p) for p in paths], top_k)

    def predict_texts(self, texts: Sequence[str], top_k: int = 2) -> list[list[tuple[str, float]]]:
        if not texts or any(not str(t).strip() for t in texts):
            raise DataError("give non-empty texts to classify")
        return self.top_k(self.text_probabilities(texts), top_k)


def load_tokenizer(folder: Path, meta: dict[str, Any]) -> Any:
    """The run's own tokenizer (``tokenizers``), truncating and padding as in training."""
    from tokenizers import Tokenizer  # only text exports need it

    tok = meta["tokenizer"]
    path = folder / TOKENIZER_DIR / "tokenizer.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {TOKENIZER_DIR}/tokenizer.json; export it again")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(int(tok["max_length"]), direction=tok["truncation_side"])
    tokenizer.enable_padding(
        direction=tok["padding_side"], pad_id=int(tok["pad_id"]), pad_token=tok["pad_token"]
    )
    return tokenizer


def load_export(
    folder: str | Path, variant: str = "fp32", threads: int | None = None
) -> ExportedModel:
    """Load an export folder for prediction (``variant``: ``fp32`` or ``int8``)."""
    return ExportedModel.load(folder, variant, threads)
