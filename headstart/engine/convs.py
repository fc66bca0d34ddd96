"""Faster convolutions while a CNN trains: frozen batch norms folded in, and depthwise
backward passes in fp32 under CPU bf16 autocast.

**Folded frozen batch norm.** With frozen statistics (headstart's default, ``--bn-stats
frozen``) an eval-mode batch norm is the per-channel affine map ``y = x * s + t`` with
``s = gamma / sqrt(var + eps)`` and ``t = beta - mean * s``. Applied to a convolution's output
it equals one convolution with weight ``W * s`` and bias ``b * s + t``. Computing those from
the live parameters at every forward keeps the function and the gradients of ``W``, ``gamma``
and ``beta`` what they were, while the activation-sized passes of batch norm (forward and
backward) become weight-sized ones.

**Depthwise backward in fp32.** oneDNN's bf16 backward of depthwise convolutions is slow on
CPUs: measured on an AVX-512 bf16 CPU (EfficientNet-Lite0's shapes, batch 32, channels-last),
the input gradient of a stride-2 depthwise conv took 92 ms in bf16 and 40 ms in fp32, the
weight gradient of a 5x5 stride-1 one 27-33 ms in bf16 and 6-15 ms in fp32, while the bf16
forward is the faster. So under CPU bf16 autocast a depthwise conv runs forward in bf16 and
its backward in fp32 (``DepthwiseConv``), with the gradients cast back.

Together, EfficientNet-Lite0 training steps (batch 32) on a 2-core CPU in bf16 went from
35-41 to 48-56 images/s (``python benchmarks/run.py finetune`` measures the epoch against a
naive loop). The modules, their parameters and the state dict stay as they are; only the
modules' ``forward`` change inside ``fast_convolutions``, and a folded pair checks at every
call whether its batch norm is still in eval mode (progressive unfreezing with ``--bn-stats adapt``
puts some back in training mode, and those run as before). Pairs are found by watching one
forward pass (``conv_bn_pairs``); the rewrite is kept only if the model's output on that
pass is unchanged.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers.conv2d_same import Conv2dSame, pad_same
from torch import nn

from headstart.features.fold import conv_bn_pairs, without_norm

# Kept in __dict__, outside _modules (no state-dict keys): the conv's batch norm, and what
# remains of a folded batch norm (nothing, or timm's dropout and activation)
_NORM = "_headstart_folded_norm"
_REST = "_headstart_norm_remainder"
_CL = torch.channels_last


class DepthwiseConv(torch.autograd.Function):
    """A depthwise ``conv2d`` computed in its inputs' dtype, its backward in fp32."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, conv: Any
    ) -> torch.Tensor:  # type: ignore[override]
        stride, padding, dilation = conv
        ctx.save_for_backward(x, w)
        ctx.conv, ctx.has_bias = conv, b is not None
        return F.conv2d(x, w, b, stride, padding, dilation, x.shape[1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, w = ctx.saved_tensors
        stride, padding, dilation = ctx.conv
        need = ctx.needs_input_grad
        # fp32 in channels-last throughout: a contiguous weight or gradient takes a slow path
        gx, gw, gb = torch.ops.aten.convolution_backward(
            grad.float().contiguous(memory_format=_CL),
            x.float().contiguous(memory_format=_CL),
            w.float().contiguous(memory_format=_CL),
            [w.shape[0]] if ctx.has_bias else None,
            list(stride),
            list(padding),
            list(dilation),
            False,
            [0, 0],
            x.shape[1],
            [need[0], need[1], ctx.has_bias and need[2]],
        )
        return (
            None if gx is None else gx.to(x.dtype),
            None if gw is None else gw.to(w.dtype),
            None if gb is None else gb.to(w.dtype),
            None,
        )


def _depthwise(conv: nn.Conv2d) -> bool:
    return conv.groups > 1 and conv.groups == conv.in_channels


def _cpu_bf16(x: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
    )


def _folded_weights(
    conv: nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm
) -> tuple[torch.Tensor, torch.Tensor]:
    mean, var = bn.running_mean, bn.running_var
    assert isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor)
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = -mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    if bn.bias is not None:
        bias = bias + bn.bias
    return conv.weight * scale.reshape(-1, 1, 1, 1), bias


def _conv_forward(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    bn = self.__dict__.get(_NORM)
    if bn is not None and bn.training:
        return type(self).forward(self, x)
    w, b = (self.weight, self.bias) if bn is None else _folded_weights(self, bn)
    padding: Any = self.padding
    if isinstance(self, Conv2dSame):
        x, padding = pad_same(x, w.shape[-2:], self.stride, self.dilation), (0, 0)  # type: ignore[arg-type]
    if _depthwise(self) and _cpu_bf16(x):
        with torch.autocast("cpu", enabled=False):
            half = torch.bfloat16
            return DepthwiseConv.apply(  # type: ignore[no-any-return]
                x.to(half),
                w.to(half),
                None if b is None else b.to(half),
                (self.stride, padding, self.dilation),
            )
    return F.conv2d(x, w, b, self.stride, padding, self.dilation, self.groups)


def _norm_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if self.training:
        return type(self).forward(self, x)
    return self.__dict__[_REST](x)  # type: ignore[no-any-return]


def _own_forward(m: nn.Module) -> bool:
    return "forward" in m.__dict__


def _conv(m: nn.Module) -> bool:
    return type(m) in (nn.Conv2d, Conv2dSame) and m.padding_mode == "zeros" and not _own_forward(m)  # type: ignore[union-attr]


def _install(model: nn.Module, pairs: list[tuple[str, str]]) -> list[nn.Module]:
    patched: list[nn.Module] = []
    for conv_name, bn_name in pairs:
        conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
        if not _conv(conv) or _own_forward(bn):  # conv_bn_pairs gives only foldable norms
            continue
        conv.__dict__[_NORM], bn.__dict__[_REST] = bn, without_norm(bn)
        conv.forward = types.MethodType(_conv_forward, conv)  # type: ignore[method-assign]
        bn.forward = types.MethodType(_norm_forward, bn)  # type: ignore[method-assign]
        patched += [conv, bn]
    for m in model.modules():  # depthwise convs without a batch norm to fold
        if _conv(m) and _depthwise(m):  # type: ignore[arg-type]
            m.forward = types.MethodType(_conv_forward, m)  # type: ignore[method-assign]
            patched.append(m)
    return patched


def _remove(patched: list[nn.Module]) -> None:
    for m in patched:
        for attr in ("forward", _NORM, _REST):
            m.__dict__.pop(attr, None)


@contextmanager
def fast_convolutions(
    model: nn.Module, input_size: tuple[int, ...], channels_last: bool = False
) -> Iterator[int]:
    """While inside, ``model``'s convolutions followed by an eval-mode batch norm run as one
    convolution with folded weights, and its depthwise convolutions take the fp32 backward
    under CPU bf16 autocast. Yields how many modules were rewritten: 0 when there is nothing to
    rewrite or the check on one random input of ``input_size`` (C, H, W) fails."""
    device = next(model.parameters()).device
    example = torch.randn(1, *input_size, generator=torch.Generator().manual_seed(0)).to(device)
    if channels_last:
        example = example.contiguous(memory_format=_CL)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            want = model(example).float()
            patched = _install(model, conv_bn_pairs(model, example))
            got = model(example).float() if patched else want
    finally:
        for m, mode in modes.items():
            m.train(mode)
    tol = 1e-3 * float(want.abs().max().clamp_min(1.0))
    if patched and not torch.allclose(got, want, atol=tol, rtol=1e-3):
        _remove(patched)
        patched = []
    try:
        yield len(patched)
    finally:
        _remove(patched)
