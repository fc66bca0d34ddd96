"""Test-time augmentation: the model sees each image several ways and its logits are averaged.

The views are made from the eval transform's tensor (the weights' own preprocessing), so they
cost no decoding: the image itself, its mirror image, and two crops of 90% of its side (top
left and bottom right) scaled back to the input size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

CROP = 0.9  # the share of each side a crop keeps


def _crop(x: torch.Tensor, corner: str) -> torch.Tensor:
    h, w = x.shape[-2:]
    ch, cw = round(h * CROP), round(w * CROP)
    top, left = (0, 0) if corner == "tl" else (h - ch, w - cw)
    part = x[..., top : top + ch, left : left + cw]
    return F.interpolate(part.float(), size=(h, w), mode="bilinear", align_corners=False).to(
        x.dtype
    )


VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "image": lambda x: x,
    "flip": lambda x: torch.flip(x, dims=[-1]),
    "crop top-left": lambda x: _crop(x, "tl"),
    "crop bottom-right": lambda x: _crop(x, "br"),
}


def tta_logits(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The mean of ``model``'s logits over the views of the batch ``x`` (fp32)."""
    total = None
    for view in VIEWS.values():
        v = view(x)
        if x.is_contiguous(memory_format=torch.channels_last):
            v = v.contiguous(memory_format=torch.channels_last)
        logits = model(v).float()
        total = logits if total is None else total + logits
    assert total is not None
    return total / len(VIEWS)
