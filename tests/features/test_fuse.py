"""Convolution + activation fusion for frozen CPU inference (``features/fuse.py``): the same
outputs as the unfused model in fp32 and under bf16 autocast, TF "same" padding of any input
size, a copy that leaves the model alone, and no fusion where it would change the result.
Randomly initialised models: numerics and plumbing only, no accuracy."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame
from torch import nn

from headstart.features.fuse import FusedConv2d, fuse_activations, fusion_available, inference_model
from tests.features.test_fold import _random_stats

pytestmark = pytest.mark.skipif(not fusion_available(), reason="PyTorch built without oneDNN")


def _fused(model: nn.Module, post: str | None = None) -> int:
    """How many convolutions of ``model`` run fused (with the activation ``post``, if given)."""
    return sum(
        isinstance(m, FusedConv2d) and (post is None or m.post[0] == post) for m in model.modules()
    )


class _Chain(nn.Module):
    """TF "same" stride-2 stem, BN, an activation, a depthwise 5x5 "same" stride-2 conv, the
    activation again (its own module), a 1x1 projection without activation."""

    def __init__(self, act: type[nn.Module]):
        super().__init__()
        self.stem = Conv2dSame(3, 8, 3, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act1 = act()
        self.dw = Conv2dSame(8, 8, 5, stride=2, groups=8)
        self.act2 = act()
        self.pw = nn.Conv2d(8, 6, 1)

    def forward(self, x):
        return self.pw(self.act2(self.dw(self.act1(self.bn(self.stem(x))))))


ACTIVATIONS = [nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.GELU]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("size", [32, 33, 37])
def test_fused_copy_gives_the_same_outputs_and_leaves_the_model_alone(act, size):
    model = _random_stats(_Chain(act))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(3, 3, size, size)
    fused = inference_model(model, x[:1])
    assert fused is not model and _fused(fused) == 3 and _fused(fused, "none") == 1
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=1e-4)
        # a size other than the example's: the padding is worked out per input
        y = torch.randn(2, 3, size + 3, size + 2)
        torch.testing.assert_close(fused(y), model(y), atol=1e-4, rtol=1e-4)
    assert type(model.act1) is act and all(
        torch.equal(v, model.state_dict()[k]) for k, v in before.items()
    )


def test_bf16_under_autocast_agrees_with_autocast_of_the_model():
    model = _random_stats(_Chain(nn.ReLU6))
    x = torch.randn(4, 3, 40, 40).contiguous(memory_format=torch.channels_last)
    fused = inference_model(model, x[:1]).to(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = fused(x), model(x)
    assert got.dtype == torch.bfloat16
    assert F.cosine_similarity(got.float().flatten(1), want.float().flatten(1)).min() > 0.999


class _SharedRelu(nn.Module):
    """torchvision's Bottleneck pattern: one ReLU module after a conv and after an addition."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv2(self.relu(self.conv1(x))) + x)


def test_an_activation_also_fed_by_something_else_stays():
    model = _SharedRelu().eval()
    x = torch.randn(2, 4, 9, 9)
    fused = fuse_activations(model, x[:1])
    assert isinstance(fused.relu, nn.ReLU) and _fused(fused, "relu") == 0
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x))


class _Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(self.conv(x)))


def test_a_convolution_called_twice_is_left_alone():
    model = _Twice().eval()
    assert fuse_activations(model, torch.randn(1, 3, 8, 8)) is model


def test_with_autograd_it_runs_the_plain_convolution_and_gradients_flow():
    model = _random_stats(_Chain(nn.SiLU))
    fused = inference_model(model, torch.randn(1, 3, 32, 32))
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    fused(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_changed_weights_are_used_and_copies_work_after_a_call():
    model = _random_stats(_Chain(nn.ReLU))
    x = torch.randn(2, 3, 32, 32)
    fused = inference_model(model, x[:1])
    with torch.no_grad():
        fused(x)
        fused.pw.weight.mul_(2.0)  # e.g. weights loaded in place after the first call
        model.pw.weight.mul_(2.0)
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=1e-4)
        twin = copy.deepcopy(fused)  # the weights made for oneDNN are not part of a copy
        torch.testing.assert_close(twin(x), model(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("size", [64, 77])
def test_efficientnet_lite_fuses_every_relu6_and_matches(size):
    """The default backbone's architecture (random weights, randomised BN statistics): all its
    ReLU6 run inside the convolutions and its TF "same" convolutions pad by the kernel."""
    body = _random_stats(
        timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    )
    x = torch.randn(2, 3, size, size)
    fused = inference_model(body, x[:1])
    assert _fused(fused, "hardtanh") == sum(isinstance(m, nn.ReLU6) for m in body.modules())
    relu6_in = {n.rpartition(".")[0] for n, m in fused.named_modules() if isinstance(m, nn.ReLU6)}
    # the ReLU6 modules left are those the fused convolutions keep for autograd
    assert all(isinstance(fused.get_submodule(n), FusedConv2d) for n in relu6_in)
    with torch.no_grad():
        want = body(x)
        torch.testing.assert_close(fused(x), want, atol=1e-4 * float(want.abs().max()), rtol=1e-4)
