"""headstart against the naive tutorial loop, on the same data, model and seed, in one run.

    python benchmarks/run.py all            # every benchmark; prints one table
    python benchmarks/run.py feature-extraction | finetune | inference | extraction-overhead
    python benchmarks/run.py limit          # this CPU's bare img/s per path (benchmarks/limit.py)
    python benchmarks/run.py contention     # training beside a busy process (contention.py)
    python benchmarks/run.py zeroshot       # headstart zeroshot cold and warm (zeroshot_speed.py)
    python benchmarks/run.py scale
    python benchmarks/run.py export-inference | serve-load     # benchmarks/deploy.py
    python benchmarks/run.py peers          # fastai, HF Trainer, ONNX Runtime (peers.py)
    python benchmarks/run.py advice         # --strategy auto: the advice's share of the run

Data: Fashion-MNIST subsets exported with headstart itself (Debian package
dataset-fashion-mnist); model: the packaged EfficientNet-Lite0 at its own 224 px preprocessing.
"""

from __future__ import annotations

import headstart  # noqa: F401 - first: its OpenMP settings must precede torch (headstart/cpus.py)

# isort: split
import argparse
import dataclasses
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import limit  # noqa: E402
from contention import bench_contention, bench_onnx_contention  # noqa: E402
from deploy import bench_export_inference, bench_serve_load  # noqa: E402
from naive import naive_full_finetune, naive_head_training, naive_predict  # noqa: E402
from peer_tools import peak_rss_mb  # noqa: E402
from peers import PeerSizes, bench_peers  # noqa: E402
from zeroshot_speed import bench_zeroshot  # noqa: E402

from headstart.backbones import load_backbone  # noqa: E402
from headstart.classify.fit import fit  # noqa: E402
from headstart.config import TrainConfig  # noqa: E402
from headstart.data.export import export_dataset  # noqa: E402
from headstart.data.imagedata import ImageData  # noqa: E402
from headstart.data.transforms import eval_transform  # noqa: E402
from headstart.engine.precision import (  # noqa: E402
    eval_batch_size,
    precision_name,  # noqa: E402
)
from headstart.engine.precision_probe import choose_precision, cpu_id  # noqa: E402
from headstart.features import Extraction, FeatureCache  # noqa: E402
from headstart.features.extract import extraction_probe  # noqa: E402
from headstart.recommend import recommend  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"


def dataset(train_per_class: int, val_per_class: int) -> ImageData:
    root = DATA / f"fmnist-{train_per_class}-{val_per_class}"
    if not (root / "train").is_dir():
        export_dataset("fashion-mnist", root, train_per_class, val_per_class, seed=0, force=True)
    return ImageData.from_folder(root)


def pairs(samples, data: ImageData):
    return [(s.path, data.class_map.index(s.label)) for s in samples]


def headstart_config(strategy: str, epochs: int, cache: str) -> TrainConfig:
    return TrainConfig(
        strategy=strategy,
        epochs=epochs,
        batch_size=32,
        cache_dir=cache,
        out=tempfile.mkdtemp(prefix="headstart-bench-"),
        progress=False,
        report=False,
        head_lr=3e-3,
        lr=5e-4,
        augment="standard",
    )


def decoded(n: int = 64) -> torch.Tensor:
    """The first ``n`` train images of the benchmarks' data, decoded and transformed."""
    data = dataset(50, 10)
    ds = data.dataset("train", eval_transform(load_backbone().data_config))
    return torch.stack([ds[i][0] for i in range(n)])


@functools.cache
def cpu_limits() -> dict[str, dict]:
    """This CPU's bare img/s per path (``benchmarks/limit.py``), measured once per process."""
    return limit.measure(decoded())


def bench_limit() -> list[dict]:
    """Bare forward and training-step img/s of every path, against fp32 eager."""
    limits = cpu_limits()
    rows = []
    for train in (False, True):
        base = "train fp32 eager NCHW" if train else "fp32 eager NCHW"
        fastest, _ = limit.fastest_exact(limits, train)
        for name, r in limits.items():
            if name.startswith("train") != train or name == base:
                continue
            agree = "exact" if r["exact"] else "not exact"
            if "cos_min" in r:
                agree += f", cos >= {r['cos_min']:.4f}, mean abs diff {r['rel_diff']:.1%}"
            rows.append(
                {
                    "benchmark": f"limit: {name} (img/s, batch "
                    f"{limit.TRAIN_BATCH if train else eval_batch_size(torch.device('cpu'))})",
                    "naive": f"{limits[base]['img_s']:.1f} img/s",
                    "headstart": f"{r['img_s']:.1f} img/s",
                    "ratio": r["img_s"] / limits[base]["img_s"],
                    "target": "fastest exact" if name == fastest else "-",
                    "naive_acc": "-",
                    "headstart_acc": agree,
                }
            )
    return rows


def bench_feature_extraction() -> dict:
    """500 train images x 5 epochs of head-only training; also against this CPU's limit: one
    bare pass of the fastest exact path over the same 600 images."""
    data = dataset(50, 10)
    naive = naive_head_training(pairs(data.train, data), pairs(data.val, data), 10, epochs=5)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        res = fit(data, headstart_config("feature-extraction", 5, cache))
        ours = time.perf_counter() - start
    _, fastest = limit.fastest_exact(limit.forward_limits(decoded(), int8=False), train=False)
    floor = (len(data.train) + len(data.val)) / fastest
    return {
        "benchmark": "feature extraction, 500 images x 5 epochs (wall time)",
        "naive": f"{naive['seconds']:.1f} s",
        "headstart": f"{ours:.1f} s",
        "ratio": naive["seconds"] / ours,
        "target": "20.0, or within 1.2x of the limit",
        "naive_acc": naive["val_acc"],
        "headstart_acc": res.final.val_acc,
        "vs_limit": f"{ours / floor:.2f}x the limit ({floor:.1f} s)",
    }


def bench_finetune(epochs: int = 2) -> dict:
    """Full fine-tuning, 500 train images, same epochs: training images/s."""
    data = dataset(50, 10)
    naive = naive_full_finetune(pairs(data.train, data), pairs(data.val, data), 10, epochs=epochs)
    with tempfile.TemporaryDirectory() as cache:
        res = fit(data, headstart_config("full", epochs, cache))
    seen = sum(e.train_images_per_s * e.seconds for e in res.history)
    ips = np.mean([e.train_images_per_s for e in res.history])
    _, fastest = limit.fastest_exact(limit.train_limits(decoded()), train=True)
    return {
        "benchmark": f"full fine-tuning, 500 images x {epochs} epochs (train img/s)",
        "naive": f"{naive['images_per_s']:.1f} img/s",
        "headstart": f"{ips:.1f} img/s",
        "ratio": ips / naive["images_per_s"],
        "target": "2.5, or within 1.3x of the bare step",
        "naive_acc": naive["val_acc"],
        "headstart_acc": res.final.val_acc,
        "vs_limit": f"{fastest / ips:.2f}x the limit ({fastest:.1f} img/s)",
        "_seen": seen,
    }


def bench_advice(epochs: int = 5) -> dict:
    """``train --strategy auto`` on 1,000 images (100 per class, 200 val): the advice
    (recommend: images checked, batch-norm shift, precision probe, features and linear probe)
    against the training it advises, each from a cold feature cache, as a user's first run."""
    data = dataset(100, 20)
    with tempfile.TemporaryDirectory() as cache:
        cfg = headstart_config("auto", epochs, cache)
        start = time.perf_counter()
        rec = recommend(data, epochs=epochs, config=cfg)
        advice = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as cache:
        cfg = dataclasses.replace(headstart_config(rec.strategy, epochs, cache), **rec.overrides)
        start = time.perf_counter()
        res = fit(data, cfg)
        trained = time.perf_counter() - start
    return {
        "benchmark": f"auto's advice, 1,000 images x {epochs} epochs (share of the run)",
        "naive": f"{advice:.1f} s advice",
        "headstart": f"{trained:.1f} s training ({rec.strategy})",
        "ratio": f"{advice / (advice + trained):.3f}",
        "target": "<= 0.10",
        "naive_acc": "-",
        "headstart_acc": res.final.val_acc,
    }


def auto_extraction_precision(n_images: int) -> torch.dtype | None:
    """What ``--precision auto`` extracts features with on this CPU (measured once)."""
    bb, cpu = load_backbone(), torch.device("cpu")
    probe = extraction_probe(bb, cpu)
    return choose_precision("auto", cpu, probe, n_images)


def _headstart_embed(data: ImageData, split: str = "train") -> tuple[float, np.ndarray]:
    bb = load_backbone()
    tf = eval_transform(bb.data_config)
    dtype = auto_extraction_precision(len(getattr(data, split)))
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        feats = FeatureCache(cache).features(
            bb.body,
            "bench",
            getattr(data, split),
            data.dataset(split, tf),
            tf,
            Extraction(torch.device("cpu"), dtype, progress=False),
        )
        seconds = time.perf_counter() - start
        return seconds, feats  # memory-mapped: read only where used


def bench_inference() -> dict:
    """Embedding 2,000 image files: images/s, and agreement of the features' nearest classes."""
    data = dataset(200, 10)
    paths = [s.path for s in data.train]
    naive = naive_predict(paths)
    seconds, feats = _headstart_embed(data)
    dtype = auto_extraction_precision(len(paths))
    feats = np.asarray(feats)
    cos = np.sum(feats * naive["features"], 1) / (
        np.linalg.norm(feats, axis=1) * np.linalg.norm(naive["features"], axis=1)
    )
    return {
        "benchmark": "embedding 2,000 images (img/s)",
        "naive": f"{naive['images_per_s']:.1f} img/s",
        "headstart": f"{len(paths) / seconds:.1f} img/s",
        "ratio": (len(paths) / seconds) / naive["images_per_s"],
        "target": 3.5,
        "naive_acc": "-",
        "headstart_acc": f"cos({precision_name(dtype)}, fp32) >= {cos.min():.3f}",
    }


def bench_extraction_overhead() -> dict:
    """End-to-end feature extraction vs one bare channels-last pass over decoded tensors, in
    the precision headstart picks here."""
    data = dataset(200, 10)
    bb = load_backbone()
    tf = eval_transform(bb.data_config)
    ds = data.dataset("train", tf)
    x = torch.stack([ds[i][0] for i in range(len(ds))])  # decoded and transformed, in memory
    body = bb.body.eval().to(memory_format=torch.channels_last)
    # The batch size headstart uses, so that the ratio counts only its overhead.
    bs = eval_batch_size(torch.device("cpu"))
    dtype = auto_extraction_precision(len(x))
    start = time.perf_counter()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
        for i in range(0, len(x), bs):
            body(x[i : i + bs].contiguous(memory_format=torch.channels_last))
    floor = time.perf_counter() - start
    seconds, _ = _headstart_embed(data)
    return {
        "benchmark": f"end-to-end extraction vs bare {precision_name(dtype)} pass (time ratio, "
        "lower is better)",
        "naive": f"{floor:.1f} s (bare pass)",
        "headstart": f"{seconds:.1f} s",
        "ratio": seconds / floor,
        "target": "<= 1.3",
        "naive_acc": "-",
        "headstart_acc": "-",
    }


def bench_scale(sizes=(1000, 10000, 60000)) -> dict:
    """Feature extraction at growing sizes, each in a fresh process: seconds and peak RSS."""
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "_scale_one", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    per_image = [r["seconds"] / r["n"] * 1000 for r in rows]
    return {
        "benchmark": "scale: "
        + ", ".join(
            f"{r['n']:,} img {r['seconds']:.0f} s / {r['peak_rss_mb']:.0f} MB" for r in rows
        ),
        "naive": "-",
        "headstart": " / ".join(f"{p:.1f} ms/img" for p in per_image),
        "ratio": max(per_image) / min(per_image),
        "target": "~1 (linear)",
        "naive_acc": "-",
        "headstart_acc": "-",
        "rows": rows,
    }


def _scale_one(n: int) -> None:
    data = dataset(n // 10, 1)  # 60,000 = the whole Fashion-MNIST train set
    seconds, feats = _headstart_embed(data)
    print(
        json.dumps(
            {
                "n": len(data.train),
                "seconds": seconds,
                "peak_rss_mb": peak_rss_mb(),
                "features_mb": feats.nbytes / 2**20,
            }
        )
    )


BENCHES = {
    "limit": bench_limit,
    "feature-extraction": bench_feature_extraction,
    "finetune": bench_finetune,
    "inference": bench_inference,
    "extraction-overhead": bench_extraction_overhead,
    "contention": lambda: bench_contention(dataset) + bench_onnx_contention(decoded()),
    "zeroshot": bench_zeroshot,
    "scale": bench_scale,
    "export-inference": lambda: bench_export_inference(dataset),
    "serve-load": lambda: bench_serve_load(dataset),
    "advice": bench_advice,
    "peers": lambda sizes=None: bench_peers(dataset, decoded, auto_extraction_precision, sizes),
}


def _ratio(value) -> str:
    return value if isinstance(value, str) else f"{value:.2f}x"


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_scale_one":
        _scale_one(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", nargs="+", choices=[*BENCHES, "all"])
    parser.add_argument("--json", help="also write the rows to this file")
    PeerSizes.add_options(parser)
    args = parser.parse_args()
    benches = {**BENCHES, "peers": functools.partial(BENCHES["peers"], PeerSizes.from_args(args))}
    names = list(BENCHES) if "all" in args.which else args.which
    print(
        f"{cpu_id()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
        f"load average {os.getloadavg()[0]:.1f}, pid {os.getpid()}"
    )
    rows = []
    for name in names:
        out = benches[name]()
        for row in out if isinstance(out, list) else [out]:
            rows.append(row)
            print(json.dumps(row, default=str), flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print(
        "\n| benchmark | naive or peer | headstart | ratio | target | naive/peer acc | "
        "headstart acc | vs limit |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        na = r["naive_acc"] if isinstance(r["naive_acc"], str) else f"{r['naive_acc']:.3f}"
        ha = (
            r["headstart_acc"]
            if isinstance(r["headstart_acc"], str)
            else f"{r['headstart_acc']:.3f}"
        )
        print(
            f"| {r['benchmark']} | {r['naive']} | {r['headstart']} | {_ratio(r['ratio'])} | "
            f"{r['target']} | {na} | {ha} | {r.get('vs_limit', '-')} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
