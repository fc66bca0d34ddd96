"""Running a frozen backbone over images once, fast: no_grad, autocast, channels-last, batch
norm folded into the convolutions, activations fused into them on a CPU, batches sized for the
device, the next batch decoded while the model runs, and ``torch.compile`` for large collections
on a GPU. On a CPU compiling did not pay here (Lite0, 2 cores, after folding: 10,000 images
72 s compiled vs 55 s eager; 60,000 about the same per image), so it is off there unless asked
for (``compile=True``).
"""

from __future__ import annotations

import os
import shutil
import warnings
import weakref
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.std import tqdm  # tqdm.auto (asyncio) calls iter() up front: a second DataLoader iterator

from headstart.backbones import Backbone
from headstart.engine.loaders import prefetched
from headstart.engine.precision import autocast, channels_last, eval_batch_size
from headstart.engine.precision_probe import Probe, example_batch, forward_probe
from headstart.features.fuse import inference_model


@dataclass(frozen=True)
class Extraction:
    """How a frozen module runs over a data set: on ``device``, in ``dtype`` (None: fp32),
    ``batch_size`` images at a time (None: ``eval_batch_size(device)``), decoded by
    ``num_workers`` processes, with a progress bar labelled ``desc``."""

    device: torch.device
    dtype: torch.dtype | None
    batch_size: int | None = None
    num_workers: int = 0
    progress: bool = True
    desc: str = "features"

    @property
    def batch(self) -> int:
        """The batch size, decided for the device when not given."""
        return self.batch_size or eval_batch_size(self.device)


@torch.no_grad()
def iter_features(
    body: nn.Module,
    dataset: Dataset,
    run: Extraction,
    compile: bool | None = None,
    fold: bool = True,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(offset, features)`` batches in dataset order, in eval mode.

    ``compile``: None decides from the size (``COMPILE_MIN_IMAGES``); True/False force it.
    ``fold``: run a copy with batch norm folded into the convolutions and, on a CPU, the
    activations fused into them (``inference_model``; the same numbers up to rounding, less
    memory traffic).
    """
    device, dtype, batch_size = run.device, run.dtype, run.batch
    was_training = body.training
    body.eval().to(device)  # callers may hand over a body still on the CPU (e.g. recommend)
    module = body
    if fold and len(dataset) > 0:  # type: ignore[arg-type]
        module = _prepared(body, dataset[0][0].unsqueeze(0).to(device))
    cl = channels_last(device, dtype)
    if cl:
        module.to(memory_format=torch.channels_last)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=run.num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),
    )
    forward = _forward(module, len(dataset), batch_size, compile, device)  # type: ignore[arg-type]
    offset = 0
    batches = prefetched(loader) if run.num_workers == 0 else loader
    try:
        bar = {"desc": run.desc, "leave": False, "unit": "batch", "total": len(loader)}
        for x, _ in tqdm(batches, disable=None if run.progress else True, **bar):
            x = x.to(device, non_blocking=True)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                f = forward(x)
            f = f.float().cpu().numpy()
            yield offset, f
            offset += len(f)
    finally:
        if isinstance(batches, Generator):
            batches.close()  # stops the prefetching thread when the caller stops early
        body.train(was_training)


COMPILE_MIN_IMAGES = 5000

# body -> (its weights' identity, its inference model): a job's train and val splits (and a
# later prediction) fold and fuse once, not per call; a changed weight prepares anew.
_PREPARED: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, nn.Module]] = (
    weakref.WeakKeyDictionary()
)


def _prepared(body: nn.Module, example: torch.Tensor) -> nn.Module:
    """``inference_model(body, example)``, kept while ``body`` and its weights stay the same."""
    tensors = [*body.parameters(), *body.buffers()]
    key = (example.shape, example.device, tuple((t.data_ptr(), t._version) for t in tensors))
    hit = _PREPARED.get(body)
    if hit is not None and hit[0] == key:
        return hit[1]
    module = inference_model(body, example)
    if module is not body:
        _PREPARED[body] = (key, module)
    return module


def extraction_probe(backbone: Backbone, device: torch.device) -> Probe:
    """What ``--precision auto`` times for a frozen backbone: the feature pass as
    ``iter_features`` runs it (batch norm folded, activations fused, its batch size, eval mode)."""
    x = example_batch(eval_batch_size(device), tuple(backbone.data_config["input_size"]), device)
    return forward_probe(backbone.name, backbone.body, x, lambda m: inference_model(m, x[:1]))


def _forward(
    body: nn.Module, n: int, batch_size: int, compile: bool | None, device: torch.device
) -> Callable:
    """The body's forward, compiled when worth it; batches padded to one shape so that the
    compiled graph is built once. Falls back to eager if compiling fails (e.g. no C compiler)."""
    if compile is None:
        compile = (
            device.type == "cuda"
            and n >= COMPILE_MIN_IMAGES
            and os.environ.get("HEADSTART_COMPILE", "1") != "0"
            and shutil.which(os.environ.get("CXX", "g++")) is not None
        )
    if not compile:
        return body
    compiled = torch.compile(body, dynamic=False)
    state = {"ok": True}

    def forward(x: torch.Tensor) -> torch.Tensor:
        if not state["ok"]:
            return body(x)
        n_real = len(x)
        if n_real < batch_size:
            pad = x.new_zeros((batch_size - n_real, *x.shape[1:]))
            x = (
                torch.cat([x, pad]).contiguous(memory_format=torch.channels_last)
                if x.ndim == 4
                else torch.cat([x, pad])
            )
        try:
            return compiled(x)[:n_real]
        except Exception as err:  # noqa: BLE001 - any compiler failure: stay correct, run eager
            warnings.warn(
                f"torch.compile failed ({type(err).__name__}); extracting eagerly", stacklevel=2
            )
            state["ok"] = False
            return body(x[:n_real])

    return forward


def extract_features(body: nn.Module, dataset: Dataset, run: Extraction, **kw: Any) -> np.ndarray:
    """All features of ``dataset`` as one array ``(n, dim)`` (use ``FeatureCache`` for disk)."""
    parts = [f for _, f in iter_features(body, dataset, run, **kw)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
