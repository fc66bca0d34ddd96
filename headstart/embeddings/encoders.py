"""Image encoders: what turns image files into vectors, named by a spec string.

Specs (``--backbone`` / ``--model`` on the command line):

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

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from headstart.data.images import open_image
from headstart.data.sources import Sample
from headstart.engine.precision import resolve_device, resolve_precision
from headstart.errors import HeadstartError
from headstart.features.cache import FeatureCache

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


class ImageFiles(Dataset):
    """``(image tensor, 0)`` for each file, decoded with ``transform``."""

    def __init__(self, files: Sequence[Path], transform: Any):
        self.files = list(files)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(open_image(self.files[i])), 0


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

    def encode(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        if not files:
            raise HeadstartError("no images to embed")
        samples = [Sample(Path(f), "") for f in files]
        return FeatureCache().features(
            self.module,
            self.weights_id,
            samples,
            ImageFiles(files, self.transform),
            self.transform,
            self.device,
            self.dtype,
            batch_size=self.batch_size,
            progress=progress,
            desc="embeddings",
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
    from headstart.backbones import fingerprint, load_backbone
    from headstart.data.transforms import eval_transform

    with torch.random.fork_rng():
        torch.manual_seed(0)  # "random" weights are the same each time: queries match an index
        bb = load_backbone(name, weights)
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    bb.body.to(dev)
    return ModuleEncoder(
        name,
        f"{name} ({bb.weights_source}), pooled features",
        bb.body,
        eval_transform(bb.data_config),
        f"{name}:{fingerprint(bb.body)}",
        dev,
        dtype,
        extra={
            "weights": str(weights),
            "data_config": bb.data_config,
            "weights_source": bb.weights_source,
            "num_features": bb.num_features,
        },
    )


def checkpoint_encoder(
    path: str | Path, device: str = "auto", precision: str = "auto"
) -> ModuleEncoder:
    """The embedding of a fine-tuned headstart model (image classifier or few-shot model)."""
    from headstart.backbones import fingerprint
    from headstart.data.transforms import eval_transform
    from headstart.engine.checkpoint import read_meta, resolve_checkpoint
    from headstart.errors import CheckpointError

    try:
        file = resolve_checkpoint(path, "best")
    except CheckpointError:
        file = resolve_checkpoint(path, "last")
    task = read_meta(file).get("task")
    if task == "image-classification":
        from headstart.classify.checkpoint import Checkpoint

        ckpt = Checkpoint.load(file, device=device, precision=precision)
        module, cfg, what = ckpt.model.body, ckpt.data_config, "fine-tuned backbone"
        dev, dtype = ckpt.device, ckpt.dtype
    elif task in ("fewshot-protonet", "fewshot-siamese"):
        from headstart.fewshot.checkpoint import load_fewshot

        model = load_fewshot(file)
        module, cfg, what = model.embedder(), model.data_config, task.removeprefix("fewshot-")
        dev = resolve_device(device)
        dtype = resolve_precision(precision, dev)
        module.to(dev).eval()
    else:
        raise HeadstartError(f"{file} is a '{task}' checkpoint; embeddings need an image model")
    resolved = str(file.resolve())
    run = file.parent.parent if file.parent.name == "checkpoints" else file
    return ModuleEncoder(
        resolved,
        f"{what} ({_short(run)})",
        module,
        eval_transform(cfg),
        f"ckpt:{fingerprint(module)}",
        dev,
        dtype,
        extra={"checkpoint": resolved, "data_config": cfg},
    )


def _short(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_encoder(
    spec: str = DEFAULT_SPEC,
    weights: str = "pretrained",
    device: str = "auto",
    precision: str = "auto",
) -> ImageEncoder:
    """The encoder named by ``spec`` (see the module docstring).

    >>> enc = load_encoder("tf_efficientnet_lite0")
    >>> enc.encode([Path("shoe.png")]).shape
    (1, 1280)
    """
    kind, _, arg = spec.partition(":")
    if kind == "pixels":
        if arg and not (arg.isdigit() and int(arg) > 0):
            raise HeadstartError(f"--backbone '{spec}': use pixels or pixels:SIZE, e.g. pixels:28")
        return PixelEncoder(int(arg) if arg else 28)
    if kind == "conse":
        from headstart.zeroshot.conse import conse_encoder

        if arg:
            return conse_encoder(arg, device=device, precision=precision)
        return conse_encoder(device=device, precision=precision)
    if kind == "clip":
        from headstart.zeroshot.clip import clip_encoder

        if not arg:
            raise HeadstartError(
                "--model clip:NAME_OR_DIR needs a name, e.g. "
                "clip:openai/clip-vit-base-patch32 or clip:path/to/folder"
            )
        return clip_encoder(arg, device=device, precision=precision)
    if Path(spec).exists():
        return checkpoint_encoder(spec, device, precision)
    return backbone_encoder(spec, weights, device, precision)


def encoder_from_meta(
    meta: dict[str, Any], device: str = "auto", precision: str = "auto"
) -> ImageEncoder:
    """Rebuild the encoder that produced a set of embeddings (to embed queries the same way)."""
    spec = str(meta.get("spec", DEFAULT_SPEC))
    encoder = load_encoder(spec, str(meta.get("weights", "pretrained")), device, precision)
    expected = meta.get("weights_id")
    if expected and encoder.meta().get("weights_id") != expected:
        raise HeadstartError(
            f"the weights of '{spec}' changed since these embeddings were made; "
            "embed the data again with the current weights"
        )
    return encoder
