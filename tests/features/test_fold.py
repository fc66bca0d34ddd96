"""Batch-norm folding for frozen extraction: same outputs, a copy, and no fold where a
convolution's output also feeds something else. timm's tiny random ``test_efficientnet`` with
randomised BN statistics (so that folding changes the weights); plumbing and numerics only."""

from __future__ import annotations

import torch
from torch import nn

from headstart.backbones import load_backbone
from headstart.features.extract import Extraction, extract_features
from headstart.features.fold import fold_batchnorm
from tests.conftest import TINY


def _random_stats(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


def _norms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_folded_copy_gives_the_same_features_and_leaves_the_model_alone():
    body = _random_stats(load_backbone(TINY, "random").body)
    before = {k: v.clone() for k, v in body.state_dict().items()}
    x = torch.randn(3, 3, 64, 64)
    folded = fold_batchnorm(body, x[:1])
    assert folded is not body and _norms(folded) == 0 < _norms(body)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), body(x), atol=1e-4, rtol=1e-4)
    assert all(torch.equal(v, body.state_dict()[k]) for k, v in before.items())


class _SharedOutput(nn.Module):
    """conv -> BN, but the conv's output also goes to a second path: folding would change it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_no_fold_when_the_conv_output_is_used_elsewhere():
    model = _random_stats(_SharedOutput())
    assert fold_batchnorm(model, torch.randn(1, 3, 8, 8)) is model


def test_extraction_with_and_without_folding_agree(tiny_data):
    from headstart.data.imagedata import ImageData
    from headstart.data.transforms import eval_transform

    bb = load_backbone(TINY, "random")
    _random_stats(bb.body)
    ds = ImageData.from_folder(tiny_data).dataset("train", eval_transform(bb.data_config))
    run = Extraction(torch.device("cpu"), None, progress=False)
    a = extract_features(bb.body, ds, run, fold=True)
    b = extract_features(bb.body, ds, run, fold=False)
    assert a.shape == b.shape and abs(a - b).max() < 1e-3 * max(1.0, abs(b).max())
