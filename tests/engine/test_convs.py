"""Training-time convolution rewrites (folded frozen batch norm, fp32 depthwise backward): the
same function and gradients as the plain modules, the state dict untouched, everything undone
on exit. timm's tiny random ``test_efficientnet`` with randomised BN statistics; plumbing and
numerics only, no accuracy."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from headstart.backbones import load_backbone
from headstart.engine.convs import DepthwiseConv, fast_convolutions
from headstart.engine.precision_probe import frozen_bn_train_mode
from tests.conftest import TINY
from tests.features.test_fold import _random_stats


def _grads(model: nn.Module, x: torch.Tensor, bf16: bool = False) -> tuple[float, dict]:
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(x)
    loss = out.float().square().mean()
    loss.backward()
    return loss.item(), {k: p.grad.clone() for k, p in model.named_parameters()}


def test_depthwise_backward_in_fp32_matches_autograd():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 9, 9, generator=g).to(torch.bfloat16).requires_grad_()
    w = torch.randn(6, 1, 3, 3, generator=g).to(torch.bfloat16).requires_grad_()
    b = torch.randn(6, generator=g).to(torch.bfloat16).requires_grad_()
    out = DepthwiseConv.apply(x, w, b, ((2, 2), (1, 1), (1, 1)))
    assert out.dtype == torch.bfloat16
    grad = torch.randn(out.shape, generator=g)
    out.backward(grad.to(torch.bfloat16))
    ref = [t.detach().float().requires_grad_() for t in (x, w, b)]
    F.conv2d(ref[0], ref[1], ref[2], 2, 1, 1, 6).backward(grad.to(torch.bfloat16).float())
    for mine, want in zip((x, w, b), ref):
        assert mine.grad.dtype == torch.bfloat16
        torch.testing.assert_close(mine.grad.float(), want.grad, atol=0.05, rtol=0.02)


def test_rewritten_model_has_the_same_output_and_gradients_and_is_restored():
    body = frozen_bn_train_mode(_random_stats(load_backbone(TINY, "random").body))
    plain = copy.deepcopy(body)
    keys = list(body.state_dict())
    x = torch.randn(4, 3, 64, 64)
    with fast_convolutions(body, (3, 64, 64)) as n:
        assert n > 0
        assert body.training and not any(  # the check's eval pass left the modes as they were
            m.training for m in body.modules() if isinstance(m, nn.BatchNorm2d)
        )
        loss, grads = _grads(body, x)
        want_loss, want = _grads(plain, x)
        assert abs(loss - want_loss) < 1e-4 * max(1.0, abs(want_loss))
        for k, gw in want.items():
            torch.testing.assert_close(grads[k], gw, atol=1e-4 * gw.abs().max().item(), rtol=1e-3)
        # under CPU bf16 autocast (depthwise backward in fp32): close to the plain bf16 model
        loss16, grads16 = _grads(body, x, bf16=True)
        want16, _ = _grads(plain, x, bf16=True)
        assert abs(loss16 - want16) < 0.05 * max(1.0, abs(want16))
        assert all(torch.isfinite(gr).all() for gr in grads16.values())
        assert list(body.state_dict()) == keys
    assert not any("forward" in m.__dict__ for m in body.modules())


def test_batch_norm_in_training_mode_runs_unfolded():
    body = _random_stats(load_backbone(TINY, "random").body)
    plain = copy.deepcopy(body)
    x = torch.randn(4, 3, 64, 64)
    with fast_convolutions(body, (3, 64, 64)):
        body.train()  # statistics adapt (--bn-stats adapt): batch statistics, running ones updated
        plain.train()
        torch.testing.assert_close(body(x), plain(x))
        for a, b in zip(body.modules(), plain.modules()):
            if isinstance(a, nn.modules.batchnorm._BatchNorm):
                torch.testing.assert_close(a.running_mean, b.running_mean)
