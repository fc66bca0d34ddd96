"""Image encoders: what turns image files into vectors.

The kinds below are named by a spec string (``--backbone`` / ``--model`` on the command line),
resolved by ``headstart.encoders.load_encoder``:

- a timm name or ``torchvision:NAME`` (default ``tf_efficientnet_lite0``): pooled
  penultimate-layer features of the pretrained backbone (``--weights`` picks the weights);
- a run directory or ``.safetensors`` file of headstart (an image classifier or a few-shot
  model): the embedding of that fine-tuned network;
- ``pixels`` or ``pixels:SIZE``: raw pixels resized to SIZE x SIZE, the no-transfer baseline;
- ``conse`` or ``conse:BACKBONE[+BACKBONE...]``: ConSE, text-aligned vectors from ImageNet
  classifiers (by default the packaged EfficientNet-Lite0, -Lite1 and -Lite2) and a sentence
  encoder (see ``headstart.zeroshot.conse``);
- ``clip:NAME_OR_DIR``: the image tower of a Hugging Face CLIP model (text-aligned).

Backbone passes go through ``FeatureCache``: embedding, search, probes, few-shot prototypes
and ConSE over the same files and weights share one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from headstart.backbones import fingerprint, load_backbone
from headstart.data.imagedata import ImageFiles
from headstart.data.images import open_image
from headstart.data.sources import Sample
from headstart.data.transforms import eval_transform
from headstart.engine.precision import resolve_device, resolve_precision
from headstart.engine.precision_probe import choose_precision
from headstart.errors import HeadstartError
from headstart.features.cache import FeatureCache
from headstart.features.extract import Extraction, extraction_probe

DEFAULT_SPEC = "tf_efficientnet_lite0"


class TextEncoder(Protocol):
    @property
    def name(self) -> str: ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised text vectors ``(len(texts), dim)`` in the image encoder's space."""
        ...


class ImageEncoder(Protocol):
    @property
    def spec(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def text(self) -> TextEncoder | None:
        """The text side when image vectors live in a text-aligned space, else None."""
        ...

    def encode(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        """One vector per file, rows in order (may be a read-only memory map)."""
        ...

    def meta(self) -> dict[str, Any]:
        """JSON-able description, enough to rebuild this encoder with ``load_encoder``."""
        ...


@dataclass
class ModuleEncoder:
    """Vectors from ``module(transform(image))``, computed once per file set and cached.

    ``weights_id`` must identify the module's weights (e.g. ``fingerprint(module)``): it keys
    the feature cache together with the transform and the files.
    """

    spec: str
    description: str
    module: nn.Module
    transform: Any
    weights_id: str
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype | None = None
    batch_size: int | None = None  # None: eval_batch_size(device)
    extra: dict[str, Any] = field(default_factory=dict)
    text: TextEncoder | None = None
    # when set, the precision is chosen for each call from its number of files (--precision
    # auto: engine/precision_probe.py), and kept in ``dtype``
    choose_dtype: Callable[[int], torch.dtype | None] | None = None

    def encode(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        if not files:
            raise HeadstartError("no images to embed")
        if self.choose_dtype is not None:
            self.dtype = self.choose_dtype(len(files))
        samples = [Sample(Path(f), "") for f in files]
        return FeatureCache().features(
            self.module,
            self.weights_id,
            samples,
            ImageFiles(files, self.transform),
            self.transform,
            Extraction(
                self.device, self.dtype, self.batch_size, progress=progress, desc="embeddings"
            ),
        )

    def meta(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "description": self.description,
            "weights_id": self.weights_id,
            **self.extra,
        }


@dataclass
class PixelEncoder:
    """Raw pixels: RGB resized to ``size`` x ``size``, scaled to [0, 1], flattened."""

    size: int = 28
    text: TextEncoder | None = None

    @property
    def spec(self) -> str:
        return f"pixels:{self.size}"

    @property
    def description(self) -> str:
        return f"raw pixels ({self.size}x{self.size} RGB)"

    def encode(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        if not files:
            raise HeadstartError("no images to embed")
        out = np.empty((len(files), 3 * self.size * self.size), np.float32)
        for i, f in enumerate(files):
            im = open_image(f).resize((self.size, self.size))
            out[i] = np.asarray(im, np.float32).reshape(-1) / 255.0
        return out

    def meta(self) -> dict[str, Any]:
        return {"spec": self.spec, "description": self.description}


def backbone_encoder(
    name: str = DEFAULT_SPEC,
    weights: str = "pretrained",
    device: str = "auto",
    precision: str = "auto",
) -> ModuleEncoder:
    """Pooled features of a pretrained (or local-weights) backbone, with its own preprocessing."""
    with torch.random.fork_rng():
        torch.manual_seed(0)  # "random" weights are the same each time: queries match an index
        bb = load_backbone(name, weights)
    dev = resolve_device(device)
    bb.body.to(dev)
    probe = extraction_probe(bb, dev)
    return ModuleEncoder(
        name,
        f"{name} ({bb.weights_source}), pooled features",
        bb.body,
        eval_transform(bb.data_config),
        f"{name}:{fingerprint(bb.body)}",
        dev,
        resolve_precision(precision, dev),
        extra={
            "weights": str(weights),
            "data_config": bb.data_config,
            "weights_source": bb.weights_source,
            "num_features": bb.num_features,
        },
        choose_dtype=lambda n: choose_precision(precision, dev, probe, images=n),
    )


def checkpoint_module_encoder(
    file: Path,
    module: nn.Module,
    data_config: dict[str, Any],
    what: str,
    device: torch.device,
    dtype: torch.dtype | None,
) -> ModuleEncoder:
    """The encoder of a fine-tuned headstart network stored in ``file`` (its ``module`` maps
    preprocessed images to vectors); the run is named in the description."""
    resolved = str(file.resolve())
    run = file.parent.parent if file.parent.name == "checkpoints" else file
    return ModuleEncoder(
        resolved,
        f"{what} ({_short(run)})",
        module,
        eval_transform(data_config),
        f"ckpt:{fingerprint(module)}",
        device,
        dtype,
        extra={"checkpoint": resolved, "data_config": data_config},
    )


def _short(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
