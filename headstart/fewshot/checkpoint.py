"""Few-shot models on disk (one safetensors file with JSON metadata) and ``verify``.

A few-shot checkpoint holds the whole backbone body and its head (``Identity`` for a
prototypical network, a normalised projection for a Siamese network); loading rebuilds the
architecture from the metadata and reads only tensors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.backbones import Backbone, TransferModel, load_backbone
from headstart.engine.checkpoint import read_meta, read_tensors, resolve_checkpoint, save_checkpoint
from headstart.errors import CheckpointError, HeadstartError
from headstart.fewshot.models import projection_head


def find_checkpoint(path: str | Path) -> Path:
    """A run directory or file -> its checkpoint (``best``, else ``last``)."""
    try:
        return resolve_checkpoint(path, "best")
    except CheckpointError:
        return resolve_checkpoint(path, "last")


def save_fewshot(
    path: Path,
    model: TransferModel,
    backbone: Backbone,
    cfg: Any,
    classes: list[str],
    split_at: str,
    threshold: float | None,
    history: list[dict[str, Any]],
) -> Path:
    from headstart.versions import versions

    head_dim = None if isinstance(model.head, nn.Identity) else int(cfg.embed_dim)
    meta = {
        "task": f"fewshot-{cfg.method}",
        "backbone": {
            "name": backbone.name,
            "weights_source": backbone.weights_source,
            "data_config": backbone.data_config,
        },
        "head": {"projection_dim": head_dim},
        "metric": cfg.metric,
        "margin": cfg.margin,
        "threshold": threshold,
        "classes": classes,
        "split_at": split_at,
        "config": dataclasses.asdict(cfg),
        "history": history,
        "versions": versions("timm"),
    }
    return save_checkpoint(path, model.state_dict(), meta)


@dataclass
class FewShotModel:
    path: Path
    meta: dict[str, Any]
    model: TransferModel

    @property
    def data_config(self) -> dict[str, Any]:
        cfg = dict(self.meta["backbone"]["data_config"])
        cfg["input_size"] = tuple(cfg["input_size"])
        return cfg

    @property
    def method(self) -> str:
        return str(self.meta["task"]).removeprefix("fewshot-")

    def embedder(self) -> nn.Module:
        """Images -> embeddings (pooled features, or normalised Siamese projections)."""
        return nn.Sequential(self.model.body, self.model.head)


def load_fewshot(path: str | Path) -> FewShotModel:
    """Load a few-shot run directory or checkpoint file (no pickled code is executed)."""
    file = find_checkpoint(path)
    meta = read_meta(file)
    if not str(meta.get("task", "")).startswith("fewshot-"):
        raise CheckpointError(f"{file} is a '{meta.get('task')}' checkpoint, not a few-shot model")
    backbone = load_backbone(meta["backbone"]["name"], "random")
    dim = meta["head"]["projection_dim"]
    head = projection_head(backbone.num_features, dim) if dim else nn.Identity()
    model = TransferModel(backbone.body, head)
    try:
        model.load_state_dict(read_tensors(file), strict=True)
    except RuntimeError:
        raise CheckpointError(
            f"{file} does not match its declared architecture; the file is damaged or was edited"
        ) from None
    return FewShotModel(file, meta, model.eval())


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
    from headstart.embeddings.encoders import checkpoint_encoder

    file = find_checkpoint(model)
    meta = read_meta(file)
    if meta.get("task") != "fewshot-siamese" or meta.get("threshold") is None:
        raise HeadstartError(
            f"{model} is a '{meta.get('task')}' model; verify needs a Siamese "
            "one (`headstart fewshot train DATA --method siamese`)"
        )
    for image in (image_a, image_b):
        if not Path(image).is_file():
            raise HeadstartError(f"image not found: {image}")
    enc = checkpoint_encoder(file, precision=precision)
    z = np.asarray(enc.encode([Path(image_a), Path(image_b)], progress=False), np.float32)
    d = float(torch.from_numpy(z[0] - z[1]).norm())
    t = float(meta["threshold"])
    return Verification(d, t, d <= t)
