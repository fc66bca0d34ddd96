"""Few-shot models on disk (one safetensors file with JSON metadata) and ``verify``.

A few-shot checkpoint holds the whole backbone body and its head (``Identity`` for a
prototypical network, a normalised projection for a Siamese network); loading rebuilds the
architecture from the metadata and reads only tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.backbones import TransferModel, load_backbone
from headstart.embeddings.encoders import ModuleEncoder, checkpoint_module_encoder
from headstart.engine.checkpoint import CheckpointMeta, find_checkpoint, load_strict, read_meta
from headstart.engine.precision import resolve_device, resolve_precision
from headstart.errors import CheckpointError, HeadstartError
from headstart.fewshot.models import projection_head

TASK_PREFIX = "fewshot-"


@dataclass
class FewShotModel:
    path: Path
    meta: CheckpointMeta
    model: TransferModel

    @property
    def data_config(self) -> dict[str, Any]:
        return self.meta.image_data_config(self.path)

    @property
    def method(self) -> str:
        return self.meta.task.removeprefix(TASK_PREFIX)

    def embedder(self) -> nn.Module:
        """Images -> embeddings (pooled features, or normalised Siamese projections)."""
        return nn.Sequential(self.model.body, self.model.head)


def load_fewshot(path: str | Path) -> FewShotModel:
    """Load a few-shot run directory or checkpoint file (no pickled code is executed)."""
    file = find_checkpoint(path)
    meta = read_meta(file)
    if not meta.task.startswith(TASK_PREFIX):
        raise CheckpointError(f"{file} is a '{meta.task}' checkpoint, not a few-shot model")
    backbone = load_backbone(meta.need("backbone", file, "name"), "random")
    dim = meta.head.get("projection_dim")
    head = projection_head(backbone.num_features, dim) if dim else nn.Identity()
    model = TransferModel(backbone.body, head)
    load_strict(model, file, f"a {meta.task} model on {backbone.name}")
    return FewShotModel(file, meta, model.eval())


def fewshot_encoder(
    path: str | Path, device: str = "auto", precision: str = "auto"
) -> ModuleEncoder:
    """The embedding of a trained few-shot model (run directory or checkpoint file)."""
    model = load_fewshot(path)
    dev = resolve_device(device)
    dtype = resolve_precision(model.meta.precision_for(precision), dev)
    module = model.embedder().to(dev).eval()
    return checkpoint_module_encoder(
        model.path, module, model.data_config, model.method, dev, dtype
    )


@dataclass
class Verification:
    distance: float  # between the two unit-norm embeddings, in [0, 2]
    threshold: float  # calibrated on validation pairs after training
    same: bool

    @property
    def similarity(self) -> float:
        """``1 - distance / 2``: 1 for identical embeddings, 0 for opposite ones."""
        return 1.0 - self.distance / 2.0


def verify(
    model: str | Path, image_a: str | Path, image_b: str | Path, precision: str = "fp32"
) -> Verification:
    """Same class or not, by a Siamese model's embedding distance and calibrated threshold.

    >>> verify("runs/fewshot/fmnist-siamese", "a.png", "b.png").same
    """
    file = find_checkpoint(model)
    meta = read_meta(file)
    if meta.task != TASK_PREFIX + "siamese" or meta.extra.get("threshold") is None:
        raise HeadstartError(
            f"{model} is a '{meta.task}' model; verify needs a Siamese "
            "one (`headstart fewshot train DATA --method siamese`)"
        )
    for image in (image_a, image_b):
        if not Path(image).is_file():
            raise HeadstartError(f"image not found: {image}")
    enc = fewshot_encoder(file, precision=precision)
    z = np.asarray(enc.encode([Path(image_a), Path(image_b)], progress=False), np.float32)
    d = float(torch.from_numpy(z[0] - z[1]).norm())
    t = float(meta.extra["threshold"])
    return Verification(d, t, d <= t)
