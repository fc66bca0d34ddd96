"""``--precision auto`` on a CPU: bf16 only where this CPU runs this model clearly faster in it.

What bf16 autocast buys depends on the CPU: with AMX it ran EfficientNet-Lite0 several times
faster than fp32, on an AVX-512-bf16 CPU without AMX far less (the headstart-vs-naive ratios
of ``benchmarks/run.py`` fell from 21x to 13x there), and it costs accuracy everywhere (Lite0
features of Fashion-MNIST images differ from fp32 by about 7 % mean absolute, enough to flip a
few % of a linear head's predictions). So the first time a model meets a CPU, ``auto`` times a
few steps of the real work (a forward pass, or a training step) in fp32 and in bf16,
interleaved, keeps the faster of each, and picks bf16 only when it is at least
``BF16_MIN_SPEEDUP`` times faster. The answer is kept per CPU model, PyTorch version, thread
count and work in ``CACHE/precision.json`` (``HEADSTART_PRECISION_CACHE`` moves it), so later
runs decide at once. ``--precision fp32`` / ``bf16`` still force a precision.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import functools
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from headstart.engine import distributed
from headstart.engine.precision import autocast, channels_last, resolve_precision
from headstart.io import default_cache_dir, write_json_atomic

BF16_MIN_SPEEDUP = 1.25  # bf16 must save a fifth of the time to be worth its accuracy cost
# A probe runs about 8 batches; for less work than this it would cost more than it can save,
# so such work runs in fp32 unless this CPU and model were measured already.
PROBE_MIN_IMAGES = 256
CACHE_ENV = "HEADSTART_PRECISION_CACHE"
Step = Callable[[torch.dtype | None], None]


@dataclass(frozen=True)
class Probe:
    """The real work at one precision: ``step(dtype)`` runs it once (``None``: fp32).

    ``key`` names the model and the work (e.g. ``train:tf_efficientnet_lite0:8x3x224x224``);
    the measurement is kept under it. ``session()`` is entered around all the timed steps."""

    key: str
    step: Step
    rounds: int = 3
    session: Callable[[], AbstractContextManager[Any]] = nullcontext


def cpu_id() -> str:
    """The CPU model, a digest of its feature flags, PyTorch's version and its thread count:
    what the speed of a precision depends on besides the model."""
    return f"{_cpu_model()}|torch {torch.__version__}|{torch.get_num_threads()} threads"


@functools.cache
def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in text.splitlines()) if v
    )
    flags = hashlib.sha256(fields.get("flags", "").encode()).hexdigest()[:8]
    return f"{fields.get('model name', platform.machine())} (flags {flags})"


def cache_file() -> Path:
    return Path(os.environ.get(CACHE_ENV) or default_cache_dir() / "precision.json")


def time_precisions(probe: Probe) -> dict[str, float]:
    """Seconds of one step in fp32 and in bf16: the fastest of ``probe.rounds`` interleaved
    rounds after one warm-up step each (the first call at a shape builds its kernels), so that
    load from other processes hits both alike and the minimum keeps the undisturbed ones."""
    dtypes = {"fp32": None, "bf16": torch.bfloat16}
    best = dict.fromkeys(dtypes, float("inf"))
    # dropout in a probe leaves the run's random draws alone
    with torch.random.fork_rng(devices=[]), probe.session():
        for dtype in dtypes.values():
            probe.step(dtype)
        for _ in range(probe.rounds):
            for name, dtype in dtypes.items():
                start = time.perf_counter()
                probe.step(dtype)
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def measured_precision(probe: Probe, measure: bool = True) -> torch.dtype | None:
    """bf16 when this CPU ran ``probe`` at least ``BF16_MIN_SPEEDUP`` times faster in bf16
    than in fp32, else None (fp32); measured once, then read from ``cache_file()``. With
    ``measure=False`` a CPU and model not measured yet get fp32 and no measurement."""
    path, key = cache_file(), f"{cpu_id()}|{probe.key}"
    record = _read(path).get(key)
    if not isinstance(record, dict) or record.get("precision") not in ("fp32", "bf16"):
        if not measure:
            return None
        record = _measure(probe)
        with contextlib.suppress(OSError):  # a read-only cache: this run still uses it
            write_json_atomic(path, {**_read(path), key: record})
    return torch.bfloat16 if record["precision"] == "bf16" else None


def _measure(probe: Probe) -> dict[str, Any]:
    when = datetime.datetime.now().isoformat(timespec="seconds")
    try:
        seconds = time_precisions(probe)
    except RuntimeError as err:  # an operation without a bf16 kernel here: fp32 it is
        return {"precision": "fp32", "error": str(err).splitlines()[0][:200], "measured": when}
    speedup = seconds["fp32"] / seconds["bf16"]
    return {
        "precision": "bf16" if speedup >= BF16_MIN_SPEEDUP else "fp32",
        "fp32_s": round(seconds["fp32"], 5),
        "bf16_s": round(seconds["bf16"], 5),
        "bf16_speedup": round(speedup, 3),
        "measured": when,
    }


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or damaged: measured again
        return {}
    return data if isinstance(data, dict) else {}


def choose_precision(
    spec: str, device: torch.device, probe: Probe | None, images: int | None = None
) -> torch.dtype | None:
    """``resolve_precision``, where ``auto`` on a CPU with bf16 instructions is decided by
    timing ``probe`` (``measured_precision``); ``images``: how much work the run has (images
    forwarded or trained), below ``PROBE_MIN_IMAGES`` nothing new is measured. Under torchrun
    every process takes the first process's answer."""
    dtype = resolve_precision(spec, device)
    if spec != "auto" or device.type != "cpu" or dtype is None or probe is None:
        return dtype
    if distributed.is_main():
        dtype = measured_precision(probe, images is None or images >= PROBE_MIN_IMAGES)
    return distributed.broadcast_object(dtype)  # type: ignore[no-any-return]


def forward_probe(
    name: str,
    module: nn.Module,
    example: torch.Tensor,
    prepare: Callable[[nn.Module], nn.Module] | None = None,
) -> Probe:
    """Inference of ``module`` (named ``name``) on the batch ``example``, in eval mode without
    gradients, in each precision's own memory layout (``channels_last``). ``prepare`` turns
    the model into the one inference runs (e.g. batch norm folded). Nothing is copied or run
    until the probe is timed."""
    device = example.device
    copies = _layouts(module, device, prepare)

    @torch.no_grad()
    def step(dtype: torch.dtype | None) -> None:
        cl = channels_last(device, dtype)
        with autocast(device, dtype):
            copies()[cl](_layout(example, cl))

    return Probe(f"forward:{name}:{_shape(example)}", step)


def train_probe(
    name: str,
    module: nn.Module,
    example: torch.Tensor,
    context: Callable[[nn.Module, bool], AbstractContextManager[Any]] | None = None,
) -> Probe:
    """A training step of ``module``: forward in training mode (batch norms in eval mode, as
    headstart trains by default) and backward, without an optimizer step, on a copy: the
    model is left as it was. ``context(copy, channels_last)`` wraps the steps, e.g. the
    convolution rewrite a run trains with (``engine/convs.py``)."""
    device = example.device
    copies = _layouts(module, device, frozen_bn_train_mode)

    @contextlib.contextmanager
    def session() -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for cl, model in copies().items():
                stack.enter_context(context(model, cl) if context else nullcontext())
            yield

    def step(dtype: torch.dtype | None) -> None:
        cl = channels_last(device, dtype)
        model = copies()[cl]
        with autocast(device, dtype):
            out = model(_layout(example, cl))
        out.float().square().mean().backward()
        model.zero_grad(set_to_none=True)

    # two rounds: a training step costs a second or more in fp32 on a 2-core CPU
    return Probe(f"train:{name}:{_shape(example)}", step, rounds=2, session=session)


def frozen_bn_train_mode(m: nn.Module) -> nn.Module:
    """``m`` in training mode with its batch norms in eval mode (headstart's default)."""
    m.train()
    for bn in m.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            bn.eval()
    return m


def _layouts(
    module: nn.Module, device: torch.device, prepare: Callable[[nn.Module], nn.Module] | None
) -> Callable[[], dict[bool, nn.Module]]:
    """On first call: a copy of ``module`` (through ``prepare``) in each memory layout a
    precision may use. ``module`` itself is never changed."""

    @functools.cache
    def copies() -> dict[bool, nn.Module]:
        out = {}
        for cl in {channels_last(device, d) for d in (None, torch.bfloat16)}:
            m = copy.deepcopy(module).to(device).eval()
            m = prepare(m) if prepare else m
            out[cl] = m.to(memory_format=torch.channels_last) if cl else m
        return out

    return copies


def _layout(x: torch.Tensor, cl: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if cl and x.ndim == 4 else x


def _shape(x: torch.Tensor) -> str:
    return "x".join(str(s) for s in x.shape)


def example_batch(size: int, input_size: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """A fixed random batch of ``size`` images of ``input_size`` (C, H, W) on ``device``."""
    return torch.randn(size, *input_size, generator=torch.Generator().manual_seed(0)).to(device)
