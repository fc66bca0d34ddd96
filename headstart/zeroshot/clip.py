"""CLIP through Hugging Face ``transformers``: image and text towers in one space.

``clip:NAME_OR_DIR`` loads ``CLIPModel``, its tokenizer and its image processor with
``from_pretrained`` (a hub name, found in the local cache or downloaded when online, or a
local folder). The image preprocessing comes from the model's own processor config. Labels
are embedded through prompt templates and averaged (prompt ensembling).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import transforms as T

from headstart.backbones import fingerprint
from headstart.backbones.weights import check_model_folder
from headstart.embeddings.encoders import ModuleEncoder
from headstart.engine.precision import resolve_device, resolve_precision
from headstart.errors import BackboneError

# A subset of the prompt templates CLIP's authors ensembled for ImageNet.
TEMPLATES = (
    "a photo of a {}.",
    "a bad photo of a {}.",
    "a photo of the large {}.",
    "a photo of the small {}.",
    "a close-up photo of a {}.",
    "a bright photo of a {}.",
    "a cropped photo of a {}.",
    "art of the {}.",
)


def _as_tensor(out: Any) -> torch.Tensor:
    """``get_*_features`` return a tensor, or (transformers 5) an output with the projection."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


class CLIPImageTower(nn.Module):
    """Pixels -> L2-normalised CLIP image embeddings."""

    def __init__(self, model: Any):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return F.normalize(
            _as_tensor(self.model.get_image_features(pixel_values=pixel_values)), dim=1
        )


class CLIPText:
    """Texts -> L2-normalised CLIP text embeddings, with the model's own tokenizer."""

    def __init__(self, model: Any, tokenizer: Any, name: str):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.templates = TEMPLATES
        self.logit_scale = float(model.logit_scale.exp().item())

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        device = next(self.model.parameters()).device
        for start in range(0, len(texts), 256):
            batch = self.tokenizer(
                list(texts[start : start + 256]), padding=True, truncation=True, return_tensors="pt"
            ).to(device)
            feats = _as_tensor(self.model.get_text_features(**batch))
            out.append(F.normalize(feats.float(), dim=1).cpu())
        return torch.cat(out).numpy()


def clip_transform(processor: Any) -> T.Compose:
    """The model's preprocessing (resize shortest side, centre crop, normalise) as torchvision."""
    size = _field(processor.size, "shortest_edge") or _field(processor.size, "height")
    crop = processor.crop_size
    crop_hw = (
        (int(crop), int(crop))
        if isinstance(crop, int)
        else (_field(crop, "height"), _field(crop, "width"))
    )
    return T.Compose(
        [
            T.Resize(size, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(crop_hw),
            T.ToTensor(),
            T.Normalize(processor.image_mean, processor.image_std),
        ]
    )


def _field(sizes: Any, key: str) -> int | None:
    """``sizes[key]`` of a processor's size dict (a plain dict or transformers' ``SizeDict``)."""
    value = getattr(sizes, key, None) if not isinstance(sizes, dict) else sizes.get(key)
    return int(value) if value else None


def load_clip(name: str) -> tuple[Any, Any, Any]:
    """(model, tokenizer, image processor) of ``name`` (hub name or local folder)."""
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    check_model_folder(Path(name).expanduser())
    try:
        model = CLIPModel.from_pretrained(name).eval()
        tokenizer = AutoTokenizer.from_pretrained(name)
        processor = CLIPImageProcessor.from_pretrained(name)
    except (OSError, ValueError) as err:
        offline = (
            " (offline: no CLIP weights ship in a package; download them once online "
            "or pass a local folder)"
            if os.environ.get("HF_HUB_OFFLINE")
            else ""
        )
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BackboneError(f"cannot load CLIP '{name}'{offline}: {first}") from None
    return model, tokenizer, processor


def clip_encoder(name: str, device: str = "auto", precision: str = "auto") -> ModuleEncoder:
    """The image tower of CLIP ``name`` as an encoder whose ``text`` side embeds labels."""
    model, tokenizer, processor = load_clip(name)
    dev = resolve_device(device)
    model.to(dev)
    tower = CLIPImageTower(model)
    return ModuleEncoder(
        f"clip:{name}",
        f"CLIP {name} (image tower)",
        tower,
        clip_transform(processor),
        f"clip:{fingerprint(model)}",
        dev,
        resolve_precision(precision, dev),
        text=CLIPText(model, tokenizer, name),
    )
