"""Training beside another CPU-bound process: throughput quiet vs with one busy competitor.

    python benchmarks/run.py contention

Each measurement is a fresh process (OpenMP reads its settings once, when it loads) that runs
``headstart.fit``, full fine-tuning of the packaged Lite0 on 160 Fashion-MNIST images for one
epoch, and reports the epoch's train images/s (decoding included). The competitor is a plain
``while True: pass`` in another Python process. Both with headstart's default
(``OMP_WAIT_POLICY=PASSIVE``, threads that sleep while they wait, ``headstart/cpus.py``) and
with OpenMP's own default (threads spin a while at each barrier before they sleep), which is
what a process gets that imports torch before headstart, or ran headstart before this setting.
Target: with the competitor, >= 40 % of the quiet throughput.

The same for inference on ONNX Runtime (the body of Lite0 exported to ONNX, fp32, batches of
16 decoded images, in this process): headstart's sessions (waiting threads sleep,
``headstart/export/runtime.py``) against ONNX Runtime's default spinning threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from headstart.backbones import load_backbone
from headstart.cpus import available_cpus
from headstart.export.graph import export_onnx
from headstart.export.runtime import make_session

HERE = Path(__file__).resolve().parent


# One measurement, in a fresh process: the first import decides whether OpenMP loads with
# headstart's sleeping waits (headstart first) or its own spinning default (torch first).
CHILD = """
import {first}
import json, sys, tempfile
from headstart.classify.fit import fit
from headstart.config import TrainConfig
from headstart.data.imagedata import ImageData

cfg = TrainConfig(strategy="full", epochs=1, batch_size=32, progress=False, report=False,
                  out=tempfile.mkdtemp(prefix="headstart-bench-"))
res = fit(ImageData.from_folder(sys.argv[1]), cfg)
print(json.dumps({{"img_s": res.final.train_images_per_s}}))
"""


def _measure(root: Path, policy: str, busy: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    with competitor(busy):
        first = "headstart" if policy == "sleeping" else "torch"
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(first=first), str(root)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["img_s"])


@contextlib.contextmanager
def competitor(busy: bool) -> Iterator[None]:
    """One CPU-bound process beside this one while inside (none when ``busy`` is False)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def _onnx_rates(x: np.ndarray, sessions: dict[str, Any], busy: bool) -> dict[str, float]:
    best = dict.fromkeys(sessions, float("inf"))
    with competitor(busy):
        for s in sessions.values():
            s.run(None, {"image": x})
        for _ in range(4):
            for name, s in sessions.items():
                start = time.perf_counter()
                s.run(None, {"image": x})
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(x) / t for name, t in best.items()}


def bench_onnx_contention(x: torch.Tensor) -> list[dict]:
    """ONNX Runtime img/s quiet and beside a busy process, sleeping vs spinning waits."""
    body = load_backbone().body.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(body, (x[:1],), Path(tmp) / "b.onnx", ["image"], {"image": {0: "batch"}})
        sessions = {"headstart": make_session(path)}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = available_cpus(), 1
        sessions["ONNX Runtime's default spinning"] = ort.InferenceSession(
            str(path), opts, providers=["CPUExecutionProvider"]
        )
        batch = x[:16].numpy()
        quiet, busy = _onnx_rates(batch, sessions, False), _onnx_rates(batch, sessions, True)
    return [
        {
            "benchmark": f"contention: ONNX Runtime fp32 inference beside one busy process, {name} "
            f"(img/s, batch 16; load average {os.getloadavg()[0]:.1f})",
            "naive": f"{quiet[name]:.1f} img/s quiet",
            "headstart": f"{busy[name]:.1f} img/s with competitor",
            "ratio": f"{busy[name] / quiet[name]:.0%} of quiet",
            "target": "-",
            "naive_acc": "-",
            "headstart_acc": "-",
        }
        for name in sessions
    ]


def bench_contention(dataset) -> list[dict]:
    """Quiet and contended train img/s, with sleeping (headstart) and spinning threads."""
    root = dataset(16, 2).root
    rows = []
    for policy, label in (("sleeping", "headstart"), ("spinning", "OpenMP's default waits")):
        load = os.getloadavg()[0]
        quiet = _measure(root, policy, busy=False)
        busy = _measure(root, policy, busy=True)
        rows.append(
            {
                "benchmark": f"contention: full fine-tuning beside one busy process, {label} "
                f"(train img/s; load average {load:.1f} before)",
                "naive": f"{quiet:.1f} img/s quiet",
                "headstart": f"{busy:.1f} img/s with competitor",
                "ratio": f"{busy / quiet:.0%} of quiet",
                "target": ">= 40%" if policy == "sleeping" else "-",
                "naive_acc": "-",
                "headstart_acc": "-",
            }
        )
    return rows
