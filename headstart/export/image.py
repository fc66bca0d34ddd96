"""Exporting an image run: the whole classifier (backbone and head) taking a normalized
``image`` batch ``(batch, 3, H, W)``, checked on the run's own validation images."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.classify.checkpoint import Checkpoint
from headstart.data.classmap import ClassMap
from headstart.data.imagedata import ImageData
from headstart.data.images import open_image
from headstart.data.sources import Sample
from headstart.data.transforms import eval_transform
from headstart.errors import DataError
from headstart.export.common import (
    INT8_FILE,
    finish_meta,
    onnx_runner,
    run_checks,
    subset,
    write_model,
)
from headstart.export.options import ExportOptions
from headstart.export.preprocess import preprocessing_of, to_array
from headstart.export.quantize import quantize_image_model
from headstart.export.runtime import IMAGE_TASK

BATCH = 32


def build_image_export(file: Path, opts: ExportOptions, folder: Path) -> dict[str, Any]:
    """Write the model file(s) of the image checkpoint ``file`` into ``folder``, check them
    and return the export's metadata."""
    ckpt = Checkpoint.load(file, device="cpu", precision="fp32")
    model = ckpt.model.float().eval()
    prep = preprocessing_of(ckpt.data_config)
    data, where = check_data(ckpt, opts.data)
    example = (torch.zeros(2, *prep["input_size"]),)
    path, run_fp32 = write_model(model, example, folder, opts, ["image"], {"image": {0: "batch"}})
    runners = {"fp32": run_fp32}
    if opts.quantize:
        calibration = subset(data.train or data.val, opts.calibration_samples, opts.seed)
        quantize_image_model(path, folder / INT8_FILE, _arrays(calibration, prep))
        runners["int8"] = onnx_runner(folder / INT8_FILE)
    samples = subset(data.val, opts.check_samples, opts.seed)
    batches = _check_batches(samples, ckpt, prep)
    check = {"inputs": "images", "data": where, **run_checks(batches, runners, opts)}
    meta = {
        "task": IMAGE_TASK,
        "classes": list(ckpt.classes),
        "preprocessing": prep,
        "inputs": {"image": ["batch", *prep["input_size"]]},
        "outputs": {"logits": ["batch", len(ckpt.classes)]},
        "check": check,
    }
    source = {
        "backbone": ckpt.meta.need("backbone", file, "name"),
        "weights": (ckpt.meta.backbone or {}).get("weights_source"),
        "epoch": ckpt.meta.epoch,
        "metrics": ckpt.meta.metrics,
    }
    return finish_meta(meta, folder, opts, file, source)


def check_data(ckpt: Checkpoint, data: str | None) -> tuple[ImageData, str]:
    """The labelled images to check on: ``data``, else the run's own data split as it was."""
    cfg = ckpt.meta.config
    root = data or cfg.get("data")
    if not root or not Path(root).is_dir():
        raise DataError(
            f"the run's data folder {root or '(none recorded)'} is not there; pass --data "
            "FOLDER with images of the run's classes to check the export on"
        )
    images = ImageData.from_folder(
        root, cfg.get("val_fraction", 0.2), cfg.get("seed", 0), list(ckpt.classes)
    )
    ckpt.check_classes(images.classes, str(root))
    if not images.val:
        raise DataError(f"{root} has no validation images to check the export on")
    return images, f"{root} (val)"


def _decoded(samples: Sequence[Sample]) -> Iterator[tuple[list[Any], list[str]]]:
    """Batches of decoded images and their labels; undecodable files are skipped."""
    for i in range(0, len(samples), BATCH):
        images, labels = [], []
        for s in samples[i : i + BATCH]:
            try:
                images.append(open_image(s.path))
                labels.append(s.label)
            except Exception:  # noqa: BLE001 - a bad file is reported by training, not here
                warnings.warn(f"skipped an undecodable image: {s.path}", stacklevel=2)
        if images:
            yield images, labels


def _arrays(samples: Sequence[Sample], prep: dict[str, Any]) -> Iterator[np.ndarray]:
    for images, _ in _decoded(samples):
        yield to_array(images, prep)


@torch.no_grad()
def _check_batches(
    samples: Sequence[Sample], ckpt: Checkpoint, prep: dict[str, Any]
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]]:
    """(PyTorch logits through torchvision's transform, the export's feeds through its own
    NumPy preprocessing, labels): the check covers preprocessing as well as the graph."""
    tf = eval_transform(ckpt.data_config)
    cmap = ClassMap(ckpt.classes)
    for images, labels in _decoded(samples):
        reference = ckpt.model(torch.stack([tf(im) for im in images])).float().numpy()
        feeds = {"image": to_array(images, prep)}
        yield reference, feeds, np.array([cmap.index(y) for y in labels])
