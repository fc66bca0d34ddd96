"""Deployment benchmarks: exported-model inference and the server under load, in one run.

    python benchmarks/run.py export-inference | serve-load

The model is the packaged EfficientNet-Lite0 with a head trained on Fashion-MNIST (feature
extraction, 500 images, 1 epoch: the speed does not depend on the head), exported with
``headstart export --quantize int8``. Threads of PyTorch and ONNX Runtime: the cores this
process may run on (``os.sched_getaffinity``).
"""

from __future__ import annotations

import concurrent.futures as cf
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import torch

from headstart.classify.checkpoint import Checkpoint
from headstart.classify.fit import fit
from headstart.config import TrainConfig
from headstart.cpus import available_cpus
from headstart.data.images import open_image
from headstart.engine.precision import precision_name, resolve_precision
from headstart.export.options import ExportOptions
from headstart.export.preprocess import to_array
from headstart.export.run import export_run
from headstart.export.runtime import load_export, read_export_meta

HERE = Path(__file__).resolve().parent
THREADS = available_cpus()


def fmnist_export(dataset) -> Path:
    """A Lite0 run on Fashion-MNIST (50 per class) and its fp32 + int8 export, made once."""
    out = HERE / ".data" / "deploy-export"
    if (out / "headstart-export.json").is_file():
        return out
    data = dataset(50, 10)
    cfg = TrainConfig(
        strategy="feature-extraction",
        epochs=1,
        out=tempfile.mkdtemp(prefix="headstart-bench-"),
        progress=False,
        report=False,
    )
    run = fit(data, cfg).run_dir
    # Speed is what is measured here: the int8 top-1 agreement is reported, not enforced.
    opts = ExportOptions(out=str(out), data=data.root, quantize="int8", max_int8_drop=100.0)
    export_run(run, opts)
    return out


def _rate(fn, x: np.ndarray, batch: int, seconds: float = 8.0) -> float:
    """Images per second of ``fn`` on batches of ``x``, after 2 s (and 3 calls) of warm-up:
    PyTorch's first calls at a new batch size run several times slower than the later ones."""
    start, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < 2.0:
        fn(x[:batch])
        calls += 1
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        i = (n * batch) % (len(x) - batch + 1)
        fn(x[i : i + batch])
        n += 1
    return n * batch / (time.perf_counter() - start)


def bench_export_inference(dataset) -> list[dict]:
    """img/s at batch 1 and 32: ONNX Runtime fp32 / int8 vs PyTorch eager fp32 and bf16."""
    folder = fmnist_export(dataset)
    ckpt = Checkpoint.load(read_export_meta(folder)["source"]["checkpoint"], precision="fp32")
    model = ckpt.model.eval()
    fp32, int8 = load_export(folder, threads=THREADS), load_export(folder, "int8", threads=THREADS)
    images = [open_image(s.path) for s in dataset(50, 10).val[:64]]
    x = to_array(images, fp32.meta["preprocessing"])
    torch.set_num_threads(THREADS)
    bf16 = resolve_precision("auto", torch.device("cpu"))

    @torch.no_grad()
    def eager(a: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(a)).numpy()

    @torch.no_grad()
    def headstart_path(a: np.ndarray) -> np.ndarray:  # Checkpoint's own predict path
        t = torch.from_numpy(a)
        if bf16 is not None:
            t = t.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=bf16):
                return model(t).float().numpy()
        return model(t).numpy()

    engines = {
        "PyTorch eager fp32": eager,
        f"headstart PyTorch {precision_name(bf16)}": headstart_path,
        "ONNX Runtime fp32": lambda a: fp32.logits({"image": a}),
        "ONNX Runtime int8": lambda a: int8.logits({"image": a}),
    }
    reference = eager(x).argmax(1)
    agree = {name: float((fn(x).argmax(1) == reference).mean()) for name, fn in engines.items()}
    rows = []
    for batch in (1, 32):
        rates = {}
        for name, fn in engines.items():
            if bf16 is not None and "headstart" in name:
                model.to(memory_format=torch.channels_last)
            rates[name] = _rate(fn, x, batch)
            model.to(memory_format=torch.contiguous_format)
        for name, rate in rates.items():
            if name == "PyTorch eager fp32":
                continue
            target = {("ONNX Runtime fp32", 1): 1.5, ("ONNX Runtime int8", 1): 2.5}.get(
                (name, batch), "-"
            )
            rows.append(
                {
                    "benchmark": f"inference batch {batch}: {name} vs PyTorch eager fp32 (img/s, "
                    f"{THREADS} threads)",
                    "naive": f"{rates['PyTorch eager fp32']:.1f} img/s",
                    "headstart": f"{rate:.1f} img/s",
                    "ratio": rate / rates["PyTorch eager fp32"],
                    "target": target,
                    "naive_acc": "-",
                    "headstart_acc": f"top-1 agreement {agree[name]:.3f}",
                }
            )
    return rows


MB = 2**20


def bad_requests(good: bytes) -> dict[str, dict]:
    """The flood: each kind of bad input a server meets, as httpx request arguments."""
    sys.path.insert(0, str(HERE.parent))
    from tests.deploy_helpers import bomb_png

    multipart = {"content-type": "multipart/form-data; boundary=x"}
    return {
        "truncated PNG": {"files": [("file", ("cut.png", good[: len(good) // 2], "image/png"))]},
        "20000x20000 PNG": {"files": [("file", ("bomb.png", bomb_png(), "image/png"))]},
        "50 MB body": {"content": b"\0" * (50 * MB), "headers": multipart},
        "wrong content type": {"content": good, "headers": {"content-type": "image/png"}},
    }


def _post(client: httpx.Client, url: str, kwargs: dict) -> tuple[int | str, float]:
    start = time.perf_counter()
    try:
        status: int | str = client.post(url, **kwargs).status_code
    except httpx.HTTPError as err:
        status = type(err).__name__
    return status, time.perf_counter() - start


def _start_server(folder: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "headstart.cli.main", "serve", str(folder), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):  # imports and session start take a while on a busy machine
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start in 5 minutes")


def bench_serve_load(dataset, clients: int = 32, requests: int = 2000) -> list[dict]:
    """``clients`` concurrent clients send ``requests`` real images, one per request, while a
    flood of bad inputs runs beside them on 127.0.0.1; every bad one must get a 4xx."""
    folder = fmnist_export(dataset)
    paths = [s.path for s in dataset(200, 10).train][:requests]
    port = _free_port()
    proc = _start_server(folder, port)
    url = f"http://127.0.0.1:{port}/predict"
    local = threading.local()

    def good(path: Path) -> tuple[int | str, float]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
        return _post(local.client, url, {"files": [("file", (path.name, path.read_bytes()))]})

    stop, bad_seen = threading.Event(), []
    kinds = bad_requests(paths[0].read_bytes())

    def flood() -> None:
        with httpx.Client(timeout=60) as c:
            for i in range(400):  # bounded: at most 400 bad requests per flooding thread
                if stop.is_set():
                    return
                kind = list(kinds)[i % len(kinds)]
                bad_seen.append((kind, _post(c, url, kinds[kind])[0]))

    floods = [threading.Thread(target=flood) for _ in range(4)]
    try:
        for t in floods:
            t.start()
        start = time.perf_counter()
        with cf.ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(good, paths))
        wall = time.perf_counter() - start
        stop.set()
        for t in floods:
            t.join()
        alive = proc.poll() is None and httpx.get(f"http://127.0.0.1:{port}/health").is_success
    finally:
        proc.terminate()
        proc.wait(30)
    return _load_rows(answers, wall, bad_seen, alive, clients)


def _load_rows(answers, wall, bad_seen, alive, clients) -> list[dict]:
    ms = np.array([t for _, t in answers]) * 1000
    errors = sum(status != 200 for status, _ in answers)
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    by_kind: dict[str, set] = {}
    for kind, status in bad_seen:
        by_kind.setdefault(kind, set()).add(status)
    all_4xx = all(isinstance(s, int) and 400 <= s < 500 for _, s in bad_seen)
    return [
        {
            "benchmark": f"server under load: {clients} clients, {len(answers):,} real images "
            f"(fp32 export, {THREADS} threads), with a bad-input flood beside them",
            "naive": "-",
            "headstart": f"{len(answers) / wall:.1f} req/s; p50 {p50:.0f} / p95 {p95:.0f} / "
            f"p99 {p99:.0f} ms",
            "ratio": f"{errors} errors",
            "target": "0 errors",
            "naive_acc": "-",
            "headstart_acc": "server alive" if alive else "SERVER DIED",
        },
        {
            "benchmark": "bad inputs during the load: "
            + "; ".join(f"{k} -> {sorted(map(str, v))}" for k, v in sorted(by_kind.items())),
            "naive": "-",
            "headstart": f"{len(bad_seen)} bad requests",
            "ratio": "all 4xx" if all_4xx else "NOT ALL 4xx",
            "target": "all 4xx",
            "naive_acc": "-",
            "headstart_acc": "-",
        },
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
