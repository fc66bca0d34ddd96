"""``Checkpoint``: a trained classifier loaded from disk, with its own class map and preprocessing.

>>> ckpt = Checkpoint.load("runs/train/fmnist-progressive")
>>> ckpt.predict(["shoe.png"], top_k=3)[0].top
[('ankle_boot', 0.91), ('sneaker', 0.06), ('sandal', 0.02)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from headstart.backbones import TransferModel, load_backbone, make_head
from headstart.classify.tta import tta_logits
from headstart.data.classmap import ClassMap
from headstart.data.imagedata import ImageData, ImageDataset
from headstart.data.images import check_image, is_image_file
from headstart.data.sources import Sample, find_splits, scan_class_folders
from headstart.data.transforms import eval_transform
from headstart.embeddings.encoders import ModuleEncoder, checkpoint_module_encoder
from headstart.engine.checkpoint import (
    CheckpointMeta,
    find_checkpoint,
    load_strict,
    read_meta,
    resolve_checkpoint,
)
from headstart.engine.metrics import classification_metrics, confusion, per_class_table
from headstart.engine.precision import (
    autocast,
    channels_last,
    eval_batch_size,
    resolve_device,
    resolve_precision,
)
from headstart.errors import CheckpointError, DataError
from headstart.features.fuse import inference_model
from headstart.options import POSITIVE_INT, check_option


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "top": [{"class": c, "prob": p} for c, p in self.top]}


@dataclass
class Evaluation:
    accuracy: float
    macro_f1: float
    per_class: list[dict]
    confusion: np.ndarray
    classes: tuple[str, ...]
    n: int


@dataclass
class Checkpoint:
    path: Path
    meta: CheckpointMeta
    model: TransferModel
    device: torch.device
    dtype: torch.dtype | None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.meta.classes)

    @property
    def data_config(self) -> dict[str, Any]:
        return self.meta.image_data_config(self.path)

    @classmethod
    def load(
        cls, path: str | Path, which: str = "best", device: str = "auto", precision: str = "auto"
    ) -> Checkpoint:
        """Load a run directory or ``.safetensors`` checkpoint (no pickled code is executed).

        ``precision="auto"`` predicts with the precision the run trained and validated with,
        so ``evaluate`` reproduces the run's validation accuracy.
        """
        file = resolve_checkpoint(path, which)
        meta = read_meta(file)
        if meta.task != "image-classification":
            raise CheckpointError(f"{file} is a '{meta.task}' checkpoint, not an image classifier")
        name = meta.need("backbone", file, "name")
        if not meta.classes:
            raise CheckpointError(f"{file}: its metadata has no classes; the file is damaged")
        backbone = load_backbone(name, "random")
        head = make_head(
            backbone.num_features,
            len(meta.classes),
            int(meta.head.get("hidden", 0)),
            float(meta.head.get("dropout", 0.0)),
        )
        model = TransferModel(backbone.body, head)
        load_strict(model, file, f"{name} with {len(meta.classes)} classes")
        dev = resolve_device(device)
        dtype = resolve_precision(meta.precision_for(precision), dev)
        model.to(dev).eval()
        model.body = _folded(model.body, meta.image_data_config(file), dev)
        if channels_last(dev, dtype):
            model.to(memory_format=torch.channels_last)
        return cls(file, meta, model, dev, dtype)

    def check_classes(self, classes: Iterable[str], where: str) -> None:
        """Refuse data whose class set differs from this checkpoint's class map."""
        ours, theirs = set(self.classes), set(classes)
        if ours != theirs:
            extra = ", ".join(sorted(theirs - ours)) or "none"
            missing = ", ".join(sorted(ours - theirs)) or "none"
            raise DataError(
                f"{where} has classes that differ from the checkpoint's class map "
                f"(unknown: {extra}; missing: {missing}); evaluate on data with the same classes"
            )

    @torch.no_grad()
    def probabilities(
        self, samples: list[Sample], batch_size: int | None = None, tta: bool = False
    ) -> np.ndarray:
        """Class probabilities of each sample; ``tta``: from the logits averaged over
        flipped and cropped views (``classify/tta.py``)."""
        ds = _UnlabelledDataset(samples, eval_transform(self.data_config))
        cl = channels_last(self.device, self.dtype)
        out = []
        for x, _ in DataLoader(ds, batch_size=batch_size or eval_batch_size(self.device)):
            x = x.to(self.device)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(self.device, self.dtype):
                logits = tta_logits(self.model, x) if tta else self.model(x).float()
            out.append(logits.softmax(1).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)))

    def predict(
        self, inputs: Sequence[str | Path], top_k: int = 3, tta: bool = False
    ) -> list[Prediction]:
        """Top-k classes with probabilities for image files and folders of images (``tta``:
        test-time augmentation)."""
        files = collect_images(inputs)
        bad = [(str(f), why) for f in files if (why := check_image(f))]
        if bad:
            raise DataError("cannot decode: " + "; ".join(f"{p} ({w})" for p, w in bad))
        probs = self.probabilities([Sample(f, "") for f in files], tta=tta)
        k = min(check_option("top_k", top_k, POSITIVE_INT), len(self.classes))
        preds = []
        for f, p in zip(files, probs):
            order = np.argsort(-p)[:k]
            preds.append(Prediction(str(f), [(self.classes[i], float(p[i])) for i in order]))
        return preds

    def evaluate(
        self, data: str | Path | ImageData, split: str | None = None, tta: bool = False
    ) -> Evaluation:
        """Accuracy, macro-F1, per-class table and confusion matrix on labelled images
        (``tta``: test-time augmentation)."""
        samples, where = _labelled_samples(data, split)
        self.check_classes({s.label for s in samples}, where)
        bad = [(str(s.path), why) for s in samples if (why := check_image(s.path))]
        if bad:
            raise DataError("cannot decode: " + "; ".join(f"{p} ({w})" for p, w in bad))
        cmap = ClassMap(self.classes)
        true = np.array([cmap.index(s.label) for s in samples])
        pred = self.probabilities(samples, tta=tta).argmax(1)
        m = classification_metrics(true, pred, len(self.classes))
        return Evaluation(
            m["accuracy"],
            m["macro_f1"],
            per_class_table(true, pred, self.classes),
            confusion(true, pred, len(self.classes)),
            self.classes,
            len(true),
        )


def _folded(body: nn.Module, data_config: dict[str, Any], device: torch.device) -> nn.Module:
    """The body with batch norm folded into its convolutions and, on a CPU, its activations fused
    into them, as the feature cache runs it: a head trained on cached features then sees the
    features it was trained on (under bf16 the folded and unfolded bodies round differently; on
    Fashion-MNIST with EfficientNet-Lite0 that moved val accuracy from 0.805 to 0.785), and
    inference is faster."""
    size = tuple(data_config["input_size"])
    example = torch.randn((1, *size), generator=torch.Generator().manual_seed(0)).to(device)
    return inference_model(body, example)


def classifier_encoder(
    path: str | Path, device: str = "auto", precision: str = "auto"
) -> ModuleEncoder:
    """The embedding of a fine-tuned image classifier: its body's pooled features."""
    ckpt = Checkpoint.load(find_checkpoint(path), device=device, precision=precision)
    body = ckpt.model.body
    return checkpoint_module_encoder(
        ckpt.path, body, ckpt.data_config, "fine-tuned backbone", ckpt.device, ckpt.dtype
    )


class _UnlabelledDataset(ImageDataset):
    def __init__(self, samples: list[Sample], transform: Any):
        self.samples = samples
        self.targets = [0] * len(samples)
        self.transform = transform


def collect_images(inputs: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file()
                    and is_image_file(f)
                    and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )
            )
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"no such image or folder: {p}")
    if not files:
        raise DataError(f"no images found in {', '.join(map(str, inputs))}")
    return files


def _labelled_samples(data: str | Path | ImageData, split: str | None) -> tuple[list[Sample], str]:
    if isinstance(data, ImageData):
        name = split or "val"
        return list(getattr(data, name)), f"{data.root} ({name})"
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    splits = find_splits(root)
    if split:
        if split not in splits:
            raise DataError(f"{root} has no {split}/ folder (found: {', '.join(splits) or 'none'})")
        folder = splits[split]
    else:
        folder = splits.get("test") or splits.get("val") or root
    return scan_class_folders(folder), str(folder)
