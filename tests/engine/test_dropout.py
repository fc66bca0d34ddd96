"""``fast_dropout``: dropout with masks from 16-bit random numbers on a CPU while a model trains.
What a user relies on: the same function as dropout (each element kept with probability 1 - p
and scaled by 1 / (1 - p), gradients through the kept ones), reproducible under a seed, eval
mode untouched, and the model as it was after the block."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from headstart.engine.dropout import fast_dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_each_element_is_kept_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    kept = keep_mask(torch.Size([1000, 1000]), p).float().mean().item()
    assert abs(kept - (1 - p)) < 0.002  # 1e6 draws: standard error 0.0005 at p = 0.5


def test_training_output_is_zero_or_scaled_and_gradients_follow_the_mask():
    model = nn.Sequential(nn.Dropout(0.25)).train()
    x = torch.rand(64, 100) + 1.0
    x.requires_grad_(True)
    with fast_dropout(model) as n:
        y = model(x)
    assert n == 1
    kept = y != 0
    torch.testing.assert_close(y[kept], (x / 0.75)[kept])
    assert 0.70 < kept.float().mean().item() < 0.80
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.75)


def test_a_seed_reproduces_the_masks_and_eval_mode_is_untouched():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1), nn.Dropout(0.3, inplace=True))
    x = torch.randn(16, 8)
    outs = []
    with fast_dropout(model):
        for _ in range(2):
            torch.manual_seed(3)
            outs.append(model(x))
        model.eval()
        evaluated = model(x)
    torch.testing.assert_close(outs[0], outs[1])
    with torch.no_grad():
        torch.testing.assert_close(evaluated, model[0](x))


def test_the_modules_are_restored_after_the_block():
    model = nn.Sequential(nn.Dropout(0.5))
    with fast_dropout(model):
        assert "forward" in vars(model[0])
    assert "forward" not in vars(model[0]) and model[0].p == 0.5
