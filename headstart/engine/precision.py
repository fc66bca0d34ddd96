"""Device and numeric precision: bf16 autocast on CPUs that have it, AMP on CUDA, fp32 reference."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import torch

from headstart.errors import HeadstartError

PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def resolve_device(spec: str = "auto") -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise HeadstartError(
            f"--device '{spec}' is not a device; use cpu, cuda or cuda:N"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HeadstartError("--device cuda: no CUDA GPU is visible; use --device cpu")
    return device


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bf16 math (AVX512-BF16 or AMX), where autocast pays."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(spec: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``spec`` on ``device``; None means plain fp32."""
    if spec not in PRECISIONS:
        raise HeadstartError(f"--precision '{spec}': choose one of {', '.join(PRECISIONS)}")
    if spec == "fp32" or os.environ.get("HEADSTART_PRECISION") == "fp32":
        return None
    if spec == "bf16":
        return torch.bfloat16
    if spec == "fp16":
        if device.type != "cuda":
            raise HeadstartError("--precision fp16 needs a CUDA GPU; use bf16 or fp32 on the CPU")
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else None


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def channels_last(device: torch.device, dtype: torch.dtype | None) -> bool:
    """Channels-last pays for convolutions on CPUs (oneDNN's native layout) in fp32 as in bf16,
    and on CUDA. Measured on a 2-core Xeon with AMX, EfficientNet-Lite0 (``benchmarks/run.py
    limit``): fp32 forward 22 -> 48 img/s, fp32 training step 7.6 -> 11.6 img/s."""
    return device.type in ("cpu", "cuda")


def eval_batch_size(device: torch.device) -> int:
    """Images per forward pass where nothing trains: features, embeddings, validation, predict.

    On a CPU, small batches keep a mobile network's activations in the last-level cache: Lite0
    at 224 px under bf16 autocast on 2 cores ran 16-image batches at about 2.5x the images/s of
    64-image ones (``benchmarks/run.py``). GPUs want large batches.
    """
    return 128 if device.type == "cuda" else 16


def precision_name(dtype: torch.dtype | None) -> str:
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32") if dtype else "fp32"
