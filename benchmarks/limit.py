"""The measured limit of this CPU: how fast the default backbone can go here, bare.

    python benchmarks/run.py limit

Bare means on images already decoded and transformed, in memory, with nothing but the model:
no data loading, no caches, no loop. Forward passes of the packaged EfficientNet-Lite0 body
(its own 224 px input, batches of ``eval_batch_size``):

- fp32 eager NCHW: what a tutorial runs;
- fp32 and bf16 autocast channels-last with batch norm folded (``features/fold.py``), as
  headstart ran them before activations were fused;
- fp32 channels-last with batch norm folded and activations fused (``features/fuse.py``):
  headstart's fp32 path;
- bf16 autocast channels-last, folded and fused: headstart's bf16 path;
- ONNX Runtime fp32, and int8 (static, QDQ, calibrated on the same images) where it works;

and training steps (forward, backward and an AdamW step of body + a 10-class head, batch 32)
in fp32 NCHW eager, and in fp32 and bf16 channels-last with headstart's convolution rewrite
(``engine/convs.py``). Each path is timed in interleaved rounds, keeping each path's fastest
round, so that load from other processes hits all paths alike. A path is *exact* when its
features agree with fp32 eager (cosine >= 0.9999 on every image); the feature-extraction and
fine-tuning benchmarks print their figure against the fastest exact path, measured again right
after their own run (a shared machine's load drifts).
"""

from __future__ import annotations

import copy
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headstart.backbones import TransferModel, load_backbone, make_head
from headstart.cpus import available_cpus
from headstart.engine.convs import fast_convolutions
from headstart.engine.precision import eval_batch_size
from headstart.engine.precision_probe import frozen_bn_train_mode
from headstart.export.graph import export_onnx
from headstart.export.quantize import quantize_image_model
from headstart.export.runtime import make_session
from headstart.features.fold import fold_batchnorm
from headstart.features.fuse import inference_model

EXACT_COSINE = 0.9999
TRAIN_BATCH = 32
CL = torch.channels_last


def rates(paths: dict[str, Callable[[], object]], images: int, rounds: int = 3) -> dict[str, float]:
    """Images per second of each path (``images`` per call): one warm-up call each, then
    ``rounds`` interleaved rounds of 2 calls, keeping each path's fastest round."""
    best = dict.fromkeys(paths, float("inf"))
    for fn in paths.values():
        fn()
    for _ in range(rounds):
        for name, fn in paths.items():
            start = time.perf_counter()
            fn()
            fn()
            best[name] = min(best[name], (time.perf_counter() - start) / 2)
    return {name: images / s for name, s in best.items()}


def agreement(a: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """The smallest cosine between rows of ``a`` and ``ref``, and the mean absolute difference
    relative to the mean absolute value of ``ref``."""
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    cos = (a * ref).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(ref, axis=1))
    return {
        "cos_min": float(cos.min()),
        "rel_diff": float(np.abs(a - ref).mean() / np.abs(ref).mean()),
    }


def headstart_path(precision: str) -> str:
    """The name of headstart's own forward path in ``precision`` ("fp32", "bf16")."""
    return f"{precision} channels-last, folded, fused (headstart {precision})"


def _torch_paths(
    body: nn.Module, x: torch.Tensor
) -> dict[str, Callable[[torch.Tensor], np.ndarray]]:
    folded = copy.deepcopy(fold_batchnorm(body, x[:1])).to(memory_format=CL)  # before fusion
    fused = inference_model(body, x[:1]).to(memory_format=CL)

    @torch.no_grad()
    def eager(b: torch.Tensor) -> np.ndarray:
        return body(b).numpy()

    def channels_last(model: nn.Module, bf16: bool) -> Callable[[torch.Tensor], np.ndarray]:
        @torch.no_grad()
        def forward(b: torch.Tensor) -> np.ndarray:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(b.contiguous(memory_format=CL)).float().numpy()

        return forward

    return {
        "fp32 eager NCHW": eager,
        "fp32 channels-last, folded, not fused": channels_last(folded, False),
        "bf16 channels-last, folded, not fused": channels_last(folded, True),
        headstart_path("fp32"): channels_last(fused, False),
        headstart_path("bf16"): channels_last(fused, True),
    }


def _onnx_paths(body: nn.Module, x: torch.Tensor, folder: Path, int8: bool) -> dict[str, Callable]:
    """ONNX Runtime fp32 and static int8 sessions of ``body`` (int8 left out if it fails)."""
    fp32 = export_onnx(body, (x[:1],), folder / "body.onnx", ["image"], {"image": {0: "batch"}})
    out: dict[str, Callable] = {}
    session = make_session(fp32, available_cpus())
    out["ONNX Runtime fp32"] = lambda b: session.run(None, {"image": b.numpy()})[0]
    if not int8:
        return out
    try:
        calib = [x[i : i + 8].numpy() for i in range(0, min(len(x), 64), 8)]
        int8 = quantize_image_model(fp32, folder / "body-int8.onnx", calib)
        q = make_session(int8, available_cpus())
        out["ONNX Runtime int8 (static)"] = lambda b: q.run(None, {"image": b.numpy()})[0]
    except Exception as err:  # noqa: BLE001 - a limit row says why int8 is missing
        print(f"int8: not measured ({type(err).__name__}: {err})")
    return out


def forward_limits(x: torch.Tensor, int8: bool = True) -> dict[str, dict]:
    """img/s and agreement with fp32 eager of every forward path, on decoded images ``x``."""
    body = load_backbone().body.eval()
    bs = eval_batch_size(torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        paths = {**_torch_paths(body, x), **_onnx_paths(body, x, Path(tmp), int8)}
        ref = paths["fp32 eager NCHW"](x)
        agree = {name: agreement(fn(x), ref) for name, fn in paths.items()}
        batch = x[:bs]
        ips = rates({n: functools.partial(fn, batch) for n, fn in paths.items()}, bs)
    return {
        n: {"img_s": ips[n], **agree[n], "exact": agree[n]["cos_min"] >= EXACT_COSINE}
        for n in paths
    }


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dtype, cl: bool) -> Callable:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    frozen_bn_train_mode(model)  # headstart's default: frozen batch-norm statistics
    xb = x.contiguous(memory_format=CL) if cl else x

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            loss = nn.functional.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def train_limits(x: torch.Tensor) -> dict[str, dict]:
    """Training-step img/s (batch ``TRAIN_BATCH``) of fp32 eager and headstart's paths."""
    bb = load_backbone()
    xb = x[:TRAIN_BATCH]
    y = torch.arange(len(xb)) % 10
    size = tuple(bb.data_config["input_size"])

    def model(cl: bool) -> nn.Module:
        torch.manual_seed(0)
        m = TransferModel(copy.deepcopy(bb.body), make_head(bb.num_features, 10))
        return m.to(memory_format=CL) if cl else m

    eager = model(False)
    fp32, bf16 = model(True), model(True)
    with fast_convolutions(fp32.body, size, True), fast_convolutions(bf16.body, size, True):
        ips = rates(
            {
                "train fp32 eager NCHW": _train_step(eager, xb, y, None, False),
                "train fp32 channels-last (headstart fp32)": _train_step(fp32, xb, y, None, True),
                "train bf16 channels-last (headstart bf16)": _train_step(
                    bf16, xb, y, torch.bfloat16, True
                ),
            },
            len(xb),
            rounds=2,
        )
    return {n: {"img_s": v, "exact": "bf16" not in n} for n, v in ips.items()}


def measure(x: torch.Tensor) -> dict[str, dict]:
    """Forward and training limits on decoded images ``x`` (at least ``TRAIN_BATCH``)."""
    return {**forward_limits(x), **train_limits(x)}


def fastest_exact(limits: dict[str, dict], train: bool) -> tuple[str, float]:
    """The exact path with the most img/s, among training steps or forward passes."""
    rows = {n: r for n, r in limits.items() if r["exact"] and n.startswith("train") == train}
    name = max(rows, key=lambda n: rows[n]["img_s"])
    return name, rows[name]["img_s"]
