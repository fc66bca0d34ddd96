"""What the server runs: an export on ONNX Runtime, or a run's checkpoint on PyTorch.

A backend prepares one input (an image: decoded and preprocessed to a float array; a text:
as it is) in the request's own thread, and turns a batch of prepared inputs into class
probabilities in the model thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.classify.checkpoint import Checkpoint
from headstart.cpus import available_cpus
from headstart.engine.checkpoint import CheckpointMeta, read_meta, resolve_checkpoint
from headstart.engine.precision import autocast, channels_last, precision_name
from headstart.errors import CheckpointError
from headstart.export.preprocess import preprocessing_of, to_array
from headstart.export.runtime import (
    IMAGE_TASK,
    META_FILE,
    TEXT_TASK,
    ExportedModel,
    read_export_meta,
    softmax,
)
from headstart.text.checkpoint import TextCheckpoint
from headstart.versions import versions


class Backend:
    """A classifier the server can run: ``task``, ``classes``, ``prepare`` and ``infer``."""

    task: str = IMAGE_TASK
    classes: tuple[str, ...] = ()
    preprocessing: dict[str, Any] = {}

    def prepare(self, item: Any) -> Any:
        """An image -> its preprocessed ``(3, H, W)`` array; a text stays a text."""
        if self.task == IMAGE_TASK:
            return to_array([item], self.preprocessing)[0]
        return item

    def infer(self, items: list[Any]) -> np.ndarray:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        raise NotImplementedError


class OnnxBackend(Backend):
    """An export folder on an ONNX Runtime session (fp32 or int8)."""

    def __init__(self, model: ExportedModel):
        self.model = model
        self.task = model.task
        self.classes = model.classes
        self.preprocessing = model.meta.get("preprocessing", {})

    def infer(self, items: list[Any]) -> np.ndarray:
        if self.task == IMAGE_TASK:
            return softmax(self.model.logits({"image": np.stack(items)}))
        return self.model.text_probabilities(items)

    def info(self) -> dict[str, Any]:
        meta = self.model.meta
        return {
            "engine": f"onnxruntime ({self.model.variant})",
            "source": meta["source"],
            "check": meta["check"],
            "tokenizer": meta.get("tokenizer"),
            "versions": versions("onnxruntime", "fastapi"),
        }


class TorchImageBackend(Backend):
    """An image run's checkpoint on PyTorch, in the run's precision rules (bf16 on CPUs
    that have it, AMP on CUDA, fp32 otherwise)."""

    def __init__(self, ckpt: Checkpoint):
        self.ckpt = ckpt
        self.classes = ckpt.classes
        self.preprocessing = preprocessing_of(ckpt.data_config)

    @torch.no_grad()
    def infer(self, items: list[Any]) -> np.ndarray:
        c = self.ckpt
        x = torch.from_numpy(np.stack(items)).to(c.device)
        if channels_last(c.device, c.dtype):
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(c.device, c.dtype):
            return c.model(x).float().softmax(1).cpu().numpy()

    def info(self) -> dict[str, Any]:
        return _torch_info(self.ckpt.path, self.ckpt.meta, self.ckpt.device, self.ckpt.dtype)


class TorchTextBackend(Backend):
    """A text run's checkpoint on PyTorch."""

    task = TEXT_TASK

    def __init__(self, ckpt: TextCheckpoint):
        self.ckpt = ckpt
        self.classes = ckpt.classes

    def infer(self, items: list[Any]) -> np.ndarray:
        return self.ckpt.probabilities(items)

    def info(self) -> dict[str, Any]:
        return _torch_info(self.ckpt.path, self.ckpt.meta, self.ckpt.device, self.ckpt.dtype)


def _torch_info(
    path: Path, meta: CheckpointMeta, device: torch.device, dtype: Any
) -> dict[str, Any]:
    model = (meta.backbone or meta.model or {}).get("name")
    return {
        "engine": f"pytorch ({device}, {precision_name(dtype)})",
        "source": {"checkpoint": str(path.resolve()), "model": model},
        "versions": versions("fastapi"),
    }


def load_backend(
    path: str | Path,
    variant: str = "fp32",
    which: str = "best",
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> Backend:
    """An export folder -> ONNX Runtime; a run directory or checkpoint -> PyTorch."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(
            f"{p} not found: give an export folder (headstart export RUN) or a run directory"
        )
    if (p / META_FILE).is_file():
        if "torchscript" in read_export_meta(p).get("exporter", {}).get("format", ""):
            raise CheckpointError(f"{p} is a TorchScript export: serve an ONNX export or the run")
        return OnnxBackend(ExportedModel.load(p, variant, threads))
    file = resolve_checkpoint(p, which)
    if variant != "fp32":
        raise CheckpointError(f"--variant {variant} needs an export folder (headstart export)")
    torch.set_num_threads(threads or available_cpus())
    if read_meta(file).task == TEXT_TASK:
        return TorchTextBackend(TextCheckpoint.load(file, which, device, precision))
    return TorchImageBackend(Checkpoint.load(file, which, device, precision))
