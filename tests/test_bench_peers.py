"""The peers benchmark (``benchmarks/peers.py``) compares fastai with headstart on the same
weights: the model fastai's ``vision_learner`` builds must carry headstart's packaged Lite0."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from peer_tools import ARCH, packaged_timm  # noqa: E402

from headstart.backbones import load_backbone  # noqa: E402

pytestmark = pytest.mark.slow


def test_fastai_model_carries_the_packaged_weights() -> None:
    pytest.importorskip("fastai", reason="fastai is a benchmark peer: requirements-bench.txt")
    from fastai.vision.learner import create_timm_model  # what vision_learner calls for a name

    with packaged_timm():
        model, cfg = create_timm_model(ARCH, n_out=10, pretrained=True)
    body = model[0].eval()  # fastai's TimmBody: the timm model's feature maps
    bb = load_backbone(ARCH)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = body(x).mean((2, 3))  # average pooling, as headstart's body ends
        ours = bb.body(x)
    torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-4)
    # fastai normalises with the mean/std of timm's pretrained config: Lite0's own 0.5s
    assert tuple(cfg["mean"]) == tuple(bb.data_config["mean"]) == (0.5, 0.5, 0.5)


def test_packaged_timm_refuses_a_download() -> None:
    """An architecture without packaged weights is an error, never a hub download."""
    import timm

    with packaged_timm(), pytest.raises(RuntimeError, match="no packaged weights"):
        timm.create_model("test_efficientnet", pretrained=True)
