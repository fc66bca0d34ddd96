"""Pieces both exporters share: writing the model files, checking them, the metadata."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from headstart.export.check import accuracy_drop, parity, require_drop, require_parity
from headstart.export.graph import embed_metadata, export_onnx, export_torchscript
from headstart.export.options import ExportOptions
from headstart.export.runtime import FORMAT, make_session
from headstart.versions import versions

T = TypeVar("T")
Runner = Callable[[Any], np.ndarray]  # one prepared batch -> logits
FP32_FILE = {"onnx": "model.onnx", "torchscript": "model.pt"}
INT8_FILE = "model.int8.onnx"


def subset(items: Sequence[T], n: int, seed: int) -> list[T]:
    """``n`` items picked with ``seed`` (all of them, in order, when there are fewer)."""
    if len(items) <= n:
        return list(items)
    picked = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in picked]


def write_model(
    model: nn.Module,
    example: tuple[torch.Tensor, ...],
    folder: Path,
    opts: ExportOptions,
    input_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> tuple[Path, Runner]:
    """Export ``model`` in ``opts.format``; return the file and a runner over feeds dicts."""
    path = folder / FP32_FILE[opts.format]
    if opts.format == "torchscript":
        export_torchscript(model, example, path)
        with warnings.catch_warnings():  # deprecated in favour of torch.export, still the way
            warnings.simplefilter("ignore", FutureWarning)
            loaded = torch.jit.load(str(path))

        def run_ts(feeds: dict[str, np.ndarray]) -> np.ndarray:
            with torch.no_grad():
                args = [torch.from_numpy(feeds[k]) for k in input_names]
                return loaded(*args).float().numpy()

        return path, run_ts
    export_onnx(model, example, path, input_names, dynamic_axes, opts.opset)
    return path, onnx_runner(path)


def onnx_runner(path: Path) -> Runner:
    session = make_session(path)
    return lambda feeds: session.run(["logits"], feeds)[0]


def run_checks(
    batches: Iterable[tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]],
    runners: dict[str, Runner],
    opts: ExportOptions,
) -> dict[str, Any]:
    """Logits of every runner on every batch (``(reference logits, feeds, labels)``),
    compared with the reference; raises when a check fails."""
    ref, labels, got = [], [], {name: [] for name in runners}  # type: ignore[var-annotated]
    for ref_logits, feeds, y in batches:
        ref.append(ref_logits)
        labels.append(y)
        for name, run in runners.items():
            got[name].append(run(feeds))
    reference, truth = np.concatenate(ref), np.concatenate(labels)
    out: dict[str, Any] = {}
    for name in runners:
        p = parity(reference, np.concatenate(got[name]), truth)
        if name == "int8":
            require_drop(p, opts.max_int8_drop)
            out[name] = {**p.to_dict(), "accuracy_drop_points": accuracy_drop(p)}
        else:
            require_parity(p, opts.min_agreement, opts.max_abs_diff)
            out[name] = p.to_dict()
    return out


def finish_meta(
    meta: dict[str, Any], folder: Path, opts: ExportOptions, file: Path, source: dict[str, Any]
) -> dict[str, Any]:
    """Complete the metadata and store it in every ONNX file of the export."""
    models = {"fp32": FP32_FILE[opts.format]}
    if opts.quantize:
        models["int8"] = INT8_FILE
    full = {
        "format": FORMAT,
        **meta,
        "models": models,
        "source": {
            "run": str(run_dir_of(file).resolve()),
            "checkpoint": str(file.resolve()),
            "which": opts.which,
            **source,
        },
        "exporter": {
            "format": opts.format,
            "torch.onnx": "TorchScript-based (dynamo=False)",
            "opset": opts.opset,
        },
        "versions": versions("timm", "transformers", "onnx", "onnxruntime"),
    }
    for name in models.values():
        if name.endswith(".onnx"):
            embed_metadata(folder / name, full)
    return full


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory of ``runs/.../NAME/checkpoints/best.safetensors``."""
    parent = checkpoint.parent
    return parent.parent if parent.name == "checkpoints" else parent
