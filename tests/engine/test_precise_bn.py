"""Precise batch-norm statistics: the training-mode BN layers get the plain average of their
batch statistics over the data, computed with the final weights; frozen ones are untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from headstart.engine.precise_bn import MAX_IMAGES, precise_bn
from tests.conftest import tiny_config


def test_training_bn_layers_get_the_average_of_the_batch_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 4), nn.BatchNorm1d(4))
    frozen = model[3]
    frozen.eval()  # its statistics are pretrained: they must not move
    before = frozen.running_mean.clone()
    batches = [(torch.randn(8, 3) * 3 + 1, None) for _ in range(4)]
    model[1].running_mean.fill_(123.0)  # stale statistics, as after a few steps
    seen = precise_bn(model, batches, lambda m, b: m(b[0]))
    assert seen == 32
    with torch.no_grad():
        hidden = [model[0](x) for x, _ in batches]
    expected_mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    expected_var = torch.stack([h.var(0, unbiased=True) for h in hidden]).mean(0)
    torch.testing.assert_close(model[1].running_mean, expected_mean)
    torch.testing.assert_close(model[1].running_var, expected_var)
    assert torch.equal(frozen.running_mean, before) and not frozen.training
    assert model[1].momentum == 0.1  # restored


def test_max_images_bounds_the_cost():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    calls = []
    batches = [(torch.randn(8, 3), None) for _ in range(10)]
    precise_bn(model, batches, lambda m, b: calls.append(m(b[0])), max_images=20)
    assert len(calls) == 3  # 24 images >= 20


@pytest.mark.parametrize(
    "strategy, bn_stats, re_estimated",
    [
        ("scratch", "frozen", True),  # random init: every BN layer's statistics train
        ("full", "adapt", True),  # --bn-stats adapt: the training groups' statistics train
        ("full", "frozen", False),  # pretrained statistics stay as they are
        ("feature-extraction", "frozen", False),  # the head trains on cached features
    ],
)
def test_image_training_re_estimates_bn_statistics_where_they_train(
    tiny_data, tmp_path, monkeypatch, strategy, bn_stats, re_estimated
):
    """Plumbing with the tiny random model (no accuracy claim): before each validation, the BN
    layers whose statistics train are re-estimated on the training images, the others never."""
    from headstart.classify.fit import fit
    from headstart.engine import loop

    seen: list[int] = []

    def spy(model, batches, forward, max_images=MAX_IMAGES):
        seen.append(precise_bn(model, batches, forward, max_images))
        return seen[-1]

    monkeypatch.setattr(loop, "precise_bn", spy)
    cfg = tiny_config(strategy=strategy, bn_stats=bn_stats, epochs=2, out=str(tmp_path))
    if strategy == "scratch":
        cfg.weights = "random"
    fit(tiny_data, cfg)
    assert (sum(seen) > 0) is re_estimated, seen
