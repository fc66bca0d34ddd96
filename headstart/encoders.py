"""Image encoders by spec: the one registry that turns ``--backbone`` / ``--model`` into an
encoder. It sits above every package that makes encoders and imports them downwards; the
packages themselves take encoder objects.

Specs:

- a timm name or ``torchvision:NAME`` (default ``tf_efficientnet_lite0``): pooled
  penultimate-layer features of the pretrained backbone (``weights`` picks the weights);
- a run directory or ``.safetensors`` file of headstart (an image classifier or a few-shot
  model): the embedding of that fine-tuned network;
- ``pixels`` or ``pixels:SIZE``: raw pixels resized to SIZE x SIZE, the no-transfer baseline;
- ``conse`` or ``conse:BACKBONE[+BACKBONE...]``: ConSE, text-aligned vectors from ImageNet
  classifiers and a sentence encoder (``headstart.zeroshot.conse``);
- ``clip:NAME_OR_DIR``: the image tower of a Hugging Face CLIP model (text-aligned).

>>> enc = load_encoder("tf_efficientnet_lite0")
>>> enc.encode([Path("shoe.png")]).shape
(1, 1280)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from headstart.classify.checkpoint import classifier_encoder
from headstart.embeddings.encoders import (
    DEFAULT_SPEC,
    ImageEncoder,
    PixelEncoder,
    backbone_encoder,
)
from headstart.embeddings.index import VectorIndex
from headstart.engine.checkpoint import find_checkpoint, read_meta
from headstart.errors import HeadstartError
from headstart.fewshot.checkpoint import fewshot_encoder
from headstart.zeroshot.classify import text_aligned_encoder

# ``prefix:argument`` -> factory(argument, weights, device, precision)
Factory = Callable[[str, str, str, str], ImageEncoder]
# a checkpoint's task -> factory(path, device, precision)
CheckpointFactory = Callable[[Path, str, str], ImageEncoder]


def _pixels(arg: str, weights: str, device: str, precision: str) -> ImageEncoder:
    if arg and not (arg.isdigit() and int(arg) > 0):
        raise HeadstartError(
            f"--backbone 'pixels:{arg}': use pixels or pixels:SIZE, e.g. pixels:28"
        )
    return PixelEncoder(int(arg) if arg else 28)


def _text_aligned(kind: str) -> Factory:
    def factory(arg: str, weights: str, device: str, precision: str) -> ImageEncoder:
        return text_aligned_encoder(f"{kind}:{arg}" if arg else kind, device, precision)

    return factory


PREFIXES: dict[str, Factory] = {
    "pixels": _pixels,
    "conse": _text_aligned("conse"),
    "clip": _text_aligned("clip"),
}

CHECKPOINTS: dict[str, CheckpointFactory] = {
    "image-classification": classifier_encoder,
    "fewshot-protonet": fewshot_encoder,
    "fewshot-siamese": fewshot_encoder,
}


def load_encoder(
    spec: str = DEFAULT_SPEC,
    weights: str = "pretrained",
    device: str = "auto",
    precision: str = "auto",
) -> ImageEncoder:
    """The encoder named by ``spec`` (see the module docstring)."""
    kind, _, arg = spec.partition(":")
    if kind in PREFIXES:
        return PREFIXES[kind](arg, weights, device, precision)
    if Path(spec).exists():
        return checkpoint_encoder(spec, device, precision)
    return backbone_encoder(spec, weights, device, precision)


def checkpoint_encoder(
    path: str | Path, device: str = "auto", precision: str = "auto"
) -> ImageEncoder:
    """The embedding of a fine-tuned headstart model (image classifier or few-shot model)."""
    file = find_checkpoint(path)
    task = read_meta(file).task
    if task not in CHECKPOINTS:
        raise HeadstartError(f"{file} is a '{task}' checkpoint; embeddings need an image model")
    return CHECKPOINTS[task](file, device, precision)


def index_encoder(
    index: str | Path | VectorIndex, device: str = "auto", precision: str = "auto"
) -> ImageEncoder:
    """The encoder that made the vectors of ``index`` (to embed queries the same way)."""
    idx = index if isinstance(index, VectorIndex) else VectorIndex.load(index)
    return encoder_from_meta(idx.meta["embeddings"]["encoder"], device, precision)


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
