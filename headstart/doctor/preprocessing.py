"""Checks of the preprocessing: normalization, input size and random steps in evaluation.

Each check runs the transform itself on synthetic images, so it judges what the transform
does, not how it is spelled: a hand-written ``Compose``, timm's, torchvision v2 or a custom
callable are all checked the same way. Global random states are left as they were.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from headstart.data.transforms import random_steps, transform_steps
from headstart.doctor.finding import Finding, error, warning

Transform = Callable[[Any], Any]
TOLERANCE = 2e-3
FIX = (
    "build it from the weights' own config: "
    "headstart.data.transforms.eval_transform(backbone.data_config), "
    "or timm.data.resolve_data_config({}, model=model)"
)


class _ProbeFailed(Exception):
    """The transform could not be run on an RGB image, or returned no tensor."""


def check_normalization(
    transform: Transform, data_config: dict[str, Any], which: str = "eval", backbone: str = ""
) -> list[Finding]:
    """The mean/std ``transform`` normalizes with must be the weights' (``data_config``)."""
    want_mean, want_std = _floats(data_config["mean"]), _floats(data_config["std"])
    try:
        mean, std = _normalization(transform, data_config)
    except _ProbeFailed as err:
        return [_probe_finding(which, err)]
    if _close(mean, want_mean) and _close(std, want_std):
        return []
    weights = f"the {backbone} weights" if backbone else "the weights"
    expect = f"{weights} expect mean {_fmt(want_mean)}, std {_fmt(want_std)}"
    if _close(mean, [0.0]) and _close(std, [1.0]):
        what = f"the {which} transform does not normalize (pixels stay in 0..1), but {expect}"
    else:
        imagenet = _close(mean, IMAGENET_DEFAULT_MEAN) and _close(std, IMAGENET_DEFAULT_STD)
        hint = " (ImageNet's usual numbers)" if imagenet else ""
        what = (
            f"the {which} transform normalizes with mean {_fmt(mean)}, std {_fmt(std)}{hint}, "
            f"but {expect}"
        )
    return [error("normalization", f"{what}; {FIX}")]


def check_input_size(
    transform: Transform, data_config: dict[str, Any], which: str = "eval", backbone: str = ""
) -> list[Finding]:
    """``transform`` must output images of the weights' input size and channel count."""
    want = tuple(int(v) for v in data_config["input_size"])
    try:
        a = _run(transform, _blank(data_config, wide=True))
        b = _run(transform, _blank(data_config, wide=False))
    except _ProbeFailed as err:
        return [_probe_finding(which, err)]
    weights = f"the {backbone} weights" if backbone else "the weights"
    if a.shape != b.shape:
        return [
            warning(
                "input-size",
                f"the {which} transform has no fixed output size (it gives {_hw(a.shape)} and {_hw(b.shape)} "
                f"for two image sizes), but {weights} were trained on {_hw(want)}; "
                f"resize and crop to {_hw(want)}: {FIX}",
            )
        ]
    if a.shape[0] != want[0]:
        return [
            error(
                "input-size",
                f"the {which} transform outputs {a.shape[0]}-channel images but {weights} take "
                f"{want[0]} channels; convert images to RGB (headstart.data.images.open_image does)",
            )
        ]
    if tuple(a.shape[1:]) != want[1:]:
        return [
            warning(
                "input-size",
                f"the {which} transform outputs {_hw(a.shape)} images but {weights} were trained on "
                f"{_hw(want)}; features shift with scale, so resize and crop to {_hw(want)}: {FIX}",
            )
        ]
    return []


def check_eval_deterministic(transform: Transform, which: str = "eval") -> list[Finding]:
    """The validation / evaluation transform must give the same output for the same image."""
    steps = random_steps(transform)
    if not steps:
        try:
            steps = [] if _repeatable(transform) else ["a step that changes on every call"]
        except _ProbeFailed as err:
            return [_probe_finding(which, err)]
    if not steps:
        return []
    return [
        error(
            "random-eval-transform",
            f"the {which} transform is random ({', '.join(dict.fromkeys(steps))}): validation "
            "metrics change from run to run and cached features go stale; use a deterministic "
            "resize + center crop for evaluation (headstart.data.transforms.eval_transform) and keep "
            "augmentation in the train transform",
        )
    ]


def _normalization(
    transform: Transform, data_config: dict[str, Any]
) -> tuple[list[float], list[float]]:
    """The (mean, std) the transform applies: read from its one ``Normalize`` step, else
    measured from its outputs for a black and a white image (out = (pixel - mean) / std)."""
    norms = [
        s
        for s in transform_steps(transform)
        if type(s).__name__ == "Normalize" and hasattr(s, "mean") and hasattr(s, "std")
    ]
    if len(norms) == 1:
        return _floats(norms[0].mean), _floats(norms[0].std)
    black = _channel_medians(_run(transform, _blank(data_config, True, 0)))
    white = _channel_medians(_run(transform, _blank(data_config, True, 255)))
    if torch.any((white - black).abs() < 1e-6):
        raise _ProbeFailed("it maps black and white images to the same values")
    std = 1.0 / (white - black)
    mean = -black * std
    return mean.tolist(), std.tolist()


def _repeatable(transform: Transform) -> bool:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (97, 131, 3), dtype=np.uint8))
    outputs = [_run(transform, image, seed) for seed in range(4)]
    return all(torch.equal(outputs[0], o) for o in outputs[1:])


def _run(transform: Transform, image: Image.Image, seed: int = 0) -> torch.Tensor:
    try:
        with _seeded(seed):
            out = transform(image)
    except Exception as err:  # noqa: BLE001 - any failure of user code is reported, not raised
        raise _ProbeFailed(f"it fails on an RGB image ({type(err).__name__}: {err})") from None
    if not isinstance(out, torch.Tensor):
        raise _ProbeFailed(f"it returns {type(out).__name__}, not a tensor (add ToTensor)")
    if out.ndim != 3:
        raise _ProbeFailed(f"it returns a tensor of shape {tuple(out.shape)}, not (C, H, W)")
    return out.float()


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch, random and numpy for one call, then put their states back."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _blank(data_config: dict[str, Any], wide: bool, value: int = 128) -> Image.Image:
    """A plain RGB image larger than the input size: landscape (``wide``) or portrait."""
    side = max(int(v) for v in data_config["input_size"][1:])
    size = (2 * side + 17, side * 3 // 2 + 5) if wide else (side * 3 // 2 + 3, 2 * side + 11)
    return Image.new("RGB", size, (value, value, value))


def _channel_medians(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).median(dim=1).values.double()


def _probe_finding(which: str, err: _ProbeFailed) -> Finding:
    return warning(
        "transform-probe",
        f"the {which} transform could not be checked: {err}; pass a callable that takes a "
        "PIL RGB image and returns a (C, H, W) tensor",
    )


def _floats(values: Any) -> list[float]:
    return [float(v) for v in torch.as_tensor(values, dtype=torch.float64).flatten()]


def _close(got: Sequence[float], want: Sequence[float]) -> bool:
    g, w = list(got), list(want)
    if len(g) == 1:  # a single value broadcasts over the channels
        g = g * len(w)
    if len(w) == 1:
        w = w * len(g)
    return len(g) == len(w) and all(abs(a - b) <= TOLERANCE for a, b in zip(g, w))


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in values) + ")"


def _hw(shape: Any) -> str:
    return f"{int(shape[-2])}x{int(shape[-1])}"
