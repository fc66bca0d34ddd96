"""Convolution + activation fusion for frozen inference on a CPU.

After batch norm is folded (``fold.py``) a frozen CNN is a chain of convolutions, each followed
by an activation. PyTorch runs the activation as a separate pass over the activation map, and on
a CPU under bf16 that pass is slow: on this project's 2-core Xeon a bf16 ReLU6 over a
16 x 96 x 112 x 112 map took 12 ms (fp32: 2 ms) against 2 ms for the depthwise convolution that
made it. oneDNN, which runs PyTorch's CPU convolutions, applies the activation inside the
convolution as a post-op (``torch.ops.mkldnn._convolution_pointwise``, the kernel behind
``torch.compile``'s CPU fusion): no extra pass. The same holds for TensorFlow's "same" padding
(timm's ``Conv2dSame``): a stride-2 convolution pads one row and column more at the end than at
the start, done as an ``F.pad`` copy of the whole map (14 ms for that map in bf16). A kernel
with one leading zero tap and symmetric padding computes exactly the same sums, so the copy goes.

On EfficientNet-Lite0 (16 images of 224 px, 2 cores, ``python benchmarks/run.py limit``, which
times both in one run) the forward pass went from 141 to 337 img/s in bf16 and from 99 to
151 img/s in fp32 (exact: same sums, different order).

Like folding, the rewrite works on a copy, finds the pairs by watching one forward pass and is
checked against the unfused model on that pass; anything it cannot prove (a shared activation
fed by something else, a convolution called twice, a GPU, autograd) runs as before.
"""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame
from torch import nn

from headstart.features.fold import fold_batchnorm, watch

# Bumped whenever the rewrite changes how features round: part of the feature cache's key.
INFERENCE_REVISION = 2


def _post_op(act: nn.Module) -> tuple[str, list[float], str] | None:
    """oneDNN's name, scalars and algorithm for the activation ``act``; None if it has none."""
    kind = type(act)
    if kind is nn.ReLU:
        return "relu", [], ""
    if kind in (nn.ReLU6, nn.Hardtanh):
        return "hardtanh", [float(act.min_val), float(act.max_val)], ""  # type: ignore[arg-type]
    if kind is nn.SiLU:
        return "swish", [], ""
    if kind is nn.Hardswish:
        return "hardswish", [], ""
    if kind is nn.GELU:
        return "gelu", [], str(act.approximate)
    return None


def fusion_available() -> bool:
    """True where oneDNN's fused convolution exists in this PyTorch build."""
    return torch.backends.mkldnn.is_available() and hasattr(
        torch.ops.mkldnn, "_convolution_pointwise"
    )


class FusedConv2d(nn.Conv2d):
    """A convolution that applies ``act`` (and TF "same" padding when ``same``) in oneDNN on a
    CPU without autograd, and runs as the plain convolution + activation anywhere else (a GPU,
    autograd, tracing and exports).

    Under CPU bf16 autocast it computes in bf16 (as autocast's convolution would); the weights in
    each dtype and padding shape are made once and kept."""

    def __init__(self, conv: nn.Conv2d, act: nn.Module | None) -> None:
        super().__init__(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            conv.stride,  # type: ignore[arg-type]
            conv.padding,  # type: ignore[arg-type]
            conv.dilation,  # type: ignore[arg-type]
            conv.groups,
            conv.bias is not None,
            device="meta",
        )
        self.weight, self.bias = conv.weight, conv.bias
        self.same = isinstance(conv, Conv2dSame)
        post = _post_op(act) if act is not None else ("none", [], "")
        if post is None:
            raise ValueError(f"no oneDNN post-op for {type(act).__name__}")
        self.act = act if act is not None else nn.Identity()
        self.post = post
        self._weights: dict[tuple, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._stamp: tuple | None = None
        self._fused = True

    def _pads(self, x: torch.Tensor) -> list[int]:
        """timm's TF "same" padding of ``x``: [left, right, top, bottom]."""
        out = []
        for size, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            out.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = out
        return [left, right, top, bottom]

    def _plain(self, x: torch.Tensor) -> torch.Tensor:
        if self.same:
            x = F.pad(x, self._pads(x))
        return self.act(super().forward(x))

    def _kernel(
        self, x: torch.Tensor, dtype: torch.dtype, lead: tuple[int, int], padding: list[int]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight in ``dtype`` with ``lead`` leading zero taps (h, w), reordered into
        oneDNN's own layout for inputs like ``x`` (where that works: the reorder otherwise
        happens on every call), and the bias in ``dtype``; made once per dtype and padding, and
        again when the weights change."""
        w, b = self.weight, self.bias
        stamp = (w.data_ptr(), w._version, None if b is None else b._version)
        if stamp != self._stamp:
            self._weights.clear()
            self._stamp = stamp
        key = (dtype, lead, tuple(padding))
        if key not in self._weights:
            k = F.pad(w.detach().float(), (lead[1], 0, lead[0], 0)) if any(lead) else w.detach()
            k = k.to(dtype).contiguous(memory_format=torch.channels_last)
            with contextlib.suppress(RuntimeError, AttributeError):  # else the plain one works
                k = torch._C._nn.mkldnn_reorder_conv2d_weight(  # type: ignore[call-arg]
                    k.to_mkldnn(),
                    padding,
                    list(self.stride),
                    list(self.dilation),
                    self.groups,
                    list(x.shape),
                )
            self._weights[key] = (k, None if b is None else b.detach().to(dtype))
        return self._weights[key]

    def __getstate__(self) -> dict[str, Any]:
        """Copies (``copy.deepcopy``, pickling) leave the made weights behind: oneDNN's
        layout is not a tensor that copies, and they are made again on the next call."""
        state = self.__dict__.copy()
        state["_weights"], state["_stamp"] = {}, None
        return state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._fused or x.device.type != "cpu" or torch.is_grad_enabled() or x.ndim != 4:
            return self._plain(x)
        if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling():
            return self._plain(x)  # exports (ONNX, TorchScript, torch.export) get plain ops
        bf16 = (
            torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        )
        dtype = torch.bfloat16 if bf16 else x.dtype
        if dtype not in (torch.float32, torch.bfloat16):
            return self._plain(x)
        padding, lead = [int(p) for p in self.padding], [0, 0]  # never "same": see conv_act_pairs
        if self.same:
            left, right, top, bottom = self._pads(x)
            if (left, top) != (right, bottom):
                ends = ((top, bottom), (left, right))
                if self.dilation != (1, 1) or any(b - a not in (0, 1) for a, b in ends):
                    return self._plain(x)
                lead = [b - a for a, b in ends]  # one zero tap first pads one more at the start
            padding = [bottom, right]
        attr, scalars, algorithm = self.post
        weight, bias = self._kernel(x, dtype, (lead[0], lead[1]), padding)
        try:
            return torch.ops.mkldnn._convolution_pointwise(
                x.to(dtype),
                weight,
                bias,
                padding,
                list(self.stride),
                list(self.dilation),
                self.groups,
                attr,
                scalars,
                algorithm or None,
            )
        except RuntimeError:  # e.g. a CPU without oneDNN's bf16 kernels: stay correct
            self._fused = False
            return self._plain(x)


def conv_act_pairs(model: nn.Module, example: torch.Tensor) -> dict[str, str | None]:
    """Each plain convolution called once in a forward pass, with the activation module that
    took its output directly (None when there is none that can be fused): an activation
    qualifies when every call of it took the output of a different such convolution."""
    made: dict[int, tuple[str, torch.Tensor]] = {}  # the tensor kept alive: ids stay unique
    calls: dict[str, int] = {}
    fed: dict[str, list[str | None]] = {}
    hooks = []

    def conv_hook(name: str) -> Any:
        def fn(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            calls[name] = calls.get(name, 0) + 1
            made[id(out)] = (name, out)

        return fn

    def act_hook(name: str) -> Any:
        def fn(_m: nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
            conv = made.get(id(inp[0])) if inp else None
            fed.setdefault(name, []).append(conv[0] if conv else None)

        return fn

    for name, m in model.named_modules():
        plain = type(m) in (nn.Conv2d, Conv2dSame) and m.padding_mode == "zeros"  # type: ignore[attr-defined]
        if plain and not isinstance(m.padding, str):  # padding="same"/"valid": left as it is
            hooks.append(m.register_forward_hook(conv_hook(name)))
        elif _post_op(m) is not None:
            hooks.append(m.register_forward_pre_hook(act_hook(name)))
    watch(model, example, hooks)
    pairs: dict[str, str | None] = {conv: None for conv, n in calls.items() if n == 1}
    for act, convs in fed.items():
        if all(c in pairs and pairs[c] is None for c in convs) and len(set(convs)) == len(convs):
            pairs.update(dict.fromkeys(convs, act))  # type: ignore[arg-type]
    return pairs


def fuse_activations(
    model: nn.Module, example: torch.Tensor, atol: float = 1e-3, in_place: bool = False
) -> nn.Module:
    """An eval-mode copy of ``model`` whose convolutions run with their activations fused
    (``FusedConv2d``), or ``model`` itself when nothing fuses, oneDNN is missing, ``example``
    is not on a CPU, or the fused copy's output on ``example`` differs. ``in_place``: rewrite
    ``model`` itself (a copy the caller owns) instead of a copy."""
    model.eval()
    if example.device.type != "cpu" or not fusion_available():
        return model
    pairs = conv_act_pairs(model, example)
    if not pairs:
        return model
    with torch.no_grad():
        want = model(example).float()
    fused = model if in_place else copy.deepcopy(model).eval()
    replaced = {name: fused.get_submodule(name) for name in pairs}
    replaced.update({a: fused.get_submodule(a) for a in pairs.values() if a})
    for conv_name, act_name in pairs.items():
        act = replaced[act_name] if act_name else None
        fused.set_submodule(conv_name, FusedConv2d(replaced[conv_name], act))  # type: ignore[arg-type]
    for act_name in {a for a in pairs.values() if a}:
        fused.set_submodule(act_name, nn.Identity())
    with torch.no_grad():
        got = fused(example).float()
    scale = want.abs().max().clamp_min(1.0)
    if not torch.allclose(got, want, atol=atol * float(scale), rtol=1e-3):
        for name, module in replaced.items():
            fused.set_submodule(name, module)
        return model
    return fused


def inference_model(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """``model`` as frozen inference runs it: batch norm folded into the convolutions, then the
    activations fused into them on a CPU. A copy; ``model`` is left as it was (but for eval
    mode), and returned itself when nothing changes."""
    folded = fold_batchnorm(model, example)
    return fuse_activations(folded, example, in_place=folded is not model)
