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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(root: str, policy: str) -> None:
    """One measurement (run in a fresh process): train img/s of one full fine-tuning epoch."""
    if policy == "spinning":
        import torch  # noqa: F401 - OpenMP loads before headstart can ask for sleeping threads
    from headstart.classify.fit import fit
    from headstart.config import TrainConfig
    from headstart.data.imagedata import ImageData

    cfg = TrainConfig(
        strategy="full",
        epochs=1,
        batch_size=32,
        out=tempfile.mkdtemp(prefix="headstart-bench-"),
        progress=False,
        report=False,
    )
    res = fit(ImageData.from_folder(root), cfg)
    print(json.dumps({"img_s": res.final.train_images_per_s}))


def _measure(root: Path, policy: str, busy: bool) -> float:
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    try:
        out = subprocess.run(
            [sys.executable, __file__, "_child", str(root), policy],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    return float(json.loads(out.stdout.strip().splitlines()[-1])["img_s"])


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


if __name__ == "__main__" and len(sys.argv) > 3 and sys.argv[1] == "_child":
    _child(sys.argv[2], sys.argv[3])
