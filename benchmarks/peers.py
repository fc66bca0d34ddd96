"""headstart beside its peers, on the same data, epochs and seed, in one run.

    python benchmarks/run.py peers                       # the real sizes below
    python benchmarks/run.py peers --train-per-class 5 --val-per-class 5 --epochs 1 \\
        --texts 40 --val-texts 40 --text-epochs 1        # a smoke run of every row

- Images: fastai ``vision_learner`` + ``fine_tune`` against ``headstart train --strategy
  auto``, both on the packaged EfficientNet-Lite0 weights (fastai's ``timm.create_model`` call
  is given them instead of a download), Fashion-MNIST exported by headstart (100 train and 100
  val images per class), 5 epochs in all (fastai: 1 frozen + 4 unfrozen), batch 32. Accuracy
  on the val split after the last epoch and wall time; headstart should be ahead on both.
- Text: Hugging Face ``Trainer`` fine-tuning of the packaged MiniLM
  (``AutoModelForSequenceClassification``), in full and with a PEFT LoRA, against
  ``headstart text train --strategy full`` / ``lora``, on Rotten Tomatoes exported by headstart
  (2,000 train, 1,000 val texts), headstart's text defaults for epochs, batch size, max length
  and seed (the Trainer gets headstart's LR, warmup, weight decay and LoRA settings too).
  Accuracy, train texts/s and peak RSS.
- The frozen forward pass: headstart's PyTorch path (the precision its ``auto`` picks here)
  against ONNX Runtime fp32 (``benchmarks/limit.py``).

Every training run is a fresh process (``peer_tools.py``): its wall time excludes imports,
its peak RSS is its own main process's. In the table the *naive* column holds the peer.
fastai and its dependencies: ``requirements-bench.txt`` (``make bench`` installs them).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import limit
import onnxruntime
import torch

from headstart.config import TrainConfig
from headstart.data.imagedata import ImageData
from headstart.engine.precision import eval_batch_size, precision_name
from headstart.text.config import TextConfig
from headstart.text.datasets import export_text_dataset

HERE = Path(__file__).resolve().parent
TOOLS = HERE / "peer_tools.py"
TEXT = TextConfig()


@dataclass(frozen=True)
class PeerSizes:
    """How much each comparison trains on (``python benchmarks/run.py peers --help``)."""

    train_per_class: int = 100
    val_per_class: int = 100
    epochs: int = 5  # image runs, in all
    texts: int = 2000
    val_texts: int = 1000
    text_epochs: int = TEXT.epochs
    seed: int = 0

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("peers (python benchmarks/run.py peers)")
        for name, value in asdict(cls()).items():
            group.add_argument(
                f"--{name.replace('_', '-')}", type=int, default=value, help=f"default {value}"
            )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> PeerSizes:
        sizes = cls(**{name: getattr(args, name) for name in asdict(cls())})
        if sizes.epochs < 1 or sizes.text_epochs < 1 or sizes.train_per_class < 1:
            raise SystemExit("peers: --epochs, --text-epochs and --train-per-class must be >= 1")
        return sizes


def run_tool(tool: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``peer_tools.py TOOL SPEC`` in a fresh process: its JSON line (its stderr passes by)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(TOOLS), tool, json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"peers: {tool} failed (exit {proc.returncode}): {lines[-5:]}")
    print(f"{tool}: {lines[-1]}", flush=True)
    return dict(json.loads(lines[-1]))


def verdict(ours: float, theirs: float, faster: bool) -> str:
    """Whether headstart is ahead on accuracy and on speed (fastai's accuracy is a float32)."""
    ours, theirs = round(ours, 6), round(theirs, 6)
    acc = "ahead" if ours > theirs else "level" if ours == theirs else "behind"
    both = "ahead on both" if acc == "ahead" and faster else "NOT ahead on both"
    return f"{both} (accuracy {acc}, {'faster' if faster else 'slower'})"


def _cell(r: dict[str, Any], rate: str = "") -> str:
    rate = f"{r[rate]:.1f} texts/s, " if rate else ""
    return f"{rate}{r['wall_s']:.1f} s, {r['peak_rss_mb']:.0f} MB"


def image_row(sizes: PeerSizes, data: ImageData, batch: int) -> dict[str, Any]:
    """fastai ``fine_tune`` vs ``headstart train --strategy auto``: accuracy and wall time."""
    spec = {"root": str(data.root), "epochs": sizes.epochs, "batch_size": batch, "seed": sizes.seed}
    ours, theirs = run_tool("headstart-image", spec), run_tool("fastai", spec)
    n = len(data.train)
    return {
        "benchmark": f"peers: fine-tuning Lite0, Fashion-MNIST {n:,} img x {sizes.epochs} epochs, "
        f"batch {batch}: fastai {theirs['version']} vision_learner + fine_tune vs headstart "
        f"--strategy auto "
        f"({ours['strategy']}, {ours['precision']}) (wall time; peak RSS)",
        "naive": _cell(theirs),
        "headstart": _cell(ours),
        "ratio": theirs["wall_s"] / ours["wall_s"],
        "target": "ahead on both",
        "naive_acc": theirs["val_acc"],
        "headstart_acc": ours["val_acc"],
        "vs_limit": verdict(ours["val_acc"], theirs["val_acc"], ours["wall_s"] < theirs["wall_s"]),
        "tools": [ours, theirs],
    }


def text_row(sizes: PeerSizes, csv: Path, strategy: str) -> dict[str, Any]:
    """Trainer (+ PEFT LoRA) vs ``headstart text train --strategy``: train texts/s."""
    spec = {
        "csv": str(csv),
        "strategy": strategy,
        "epochs": sizes.text_epochs,
        "batch_size": TEXT.batch_size,
        "max_length": TEXT.max_length,
        "seed": sizes.seed,
    }
    ours, theirs = run_tool("headstart-text", spec), run_tool("trainer", spec)
    peer = "Trainer + PEFT LoRA" if strategy == "lora" else "Trainer"
    faster = ours["texts_per_s"] > theirs["texts_per_s"]
    return {
        "benchmark": f"peers: text {strategy}, MiniLM, Rotten Tomatoes {sizes.texts:,} texts x "
        f"{sizes.text_epochs} epochs, batch {TEXT.batch_size}, max length {TEXT.max_length}: "
        f"{peer} (transformers {theirs['version']}, fp32) vs headstart text train --strategy "
        f"{strategy} ({ours['precision']}) (train texts/s; wall; peak RSS)",
        "naive": _cell(theirs, "texts_per_s"),
        "headstart": _cell(ours, "texts_per_s"),
        "ratio": ours["texts_per_s"] / theirs["texts_per_s"],
        "target": "ahead on both",
        "naive_acc": theirs["val_acc"],
        "headstart_acc": ours["val_acc"],
        "vs_limit": verdict(ours["val_acc"], theirs["val_acc"], faster),
        "tools": [ours, theirs],
    }


def forward_row(x: torch.Tensor, dtype: torch.dtype | None) -> dict[str, Any]:
    """The frozen body's forward pass, bare (``limit.forward_limits``): headstart's PyTorch
    path in the precision its ``auto`` picks against ONNX Runtime fp32."""
    limits = limit.forward_limits(x, int8=False)
    name = limit.headstart_path(precision_name(dtype))
    ours, ort = limits[name], limits["ONNX Runtime fp32"]

    def agree(r: dict[str, Any]) -> str:
        return f"cos >= {r['cos_min']:.4f} with fp32 eager"

    return {
        "benchmark": "peers: frozen forward, img/s: headstart PyTorch path "
        f"({precision_name(dtype)}) vs ONNX Runtime {onnxruntime.__version__} fp32 "
        f"(batch {eval_batch_size(torch.device('cpu'))}, decoded images)",
        "naive": f"{ort['img_s']:.1f} img/s",
        "headstart": f"{ours['img_s']:.1f} img/s",
        "ratio": ours["img_s"] / ort["img_s"],
        "target": "-",
        "naive_acc": agree(ort),
        "headstart_acc": agree(ours),
    }


def text_csv(sizes: PeerSizes) -> Path:
    """Rotten Tomatoes exported by headstart (made once per size and seed)."""
    out = HERE / ".data" / f"rotten-tomatoes-{sizes.texts}-{sizes.val_texts}-{sizes.seed}.csv"
    if not out.is_file():
        export_text_dataset("rotten-tomatoes", out, sizes.texts, sizes.val_texts, sizes.seed)
    return out


def bench_peers(
    dataset: Callable[[int, int], ImageData],
    decoded: Callable[[], torch.Tensor],
    frozen_precision: Callable[[int], torch.dtype | None],
    sizes: PeerSizes | None = None,
) -> list[dict[str, Any]]:
    """Every peers row: ``dataset(train, val)`` is the benchmarks' Fashion-MNIST export,
    ``decoded()`` images for the forward pass, ``frozen_precision(n)`` what headstart's
    ``auto`` extracts ``n`` images in."""
    sizes = sizes or PeerSizes()
    if importlib.util.find_spec("fastai") is None:
        raise SystemExit(
            "peers: fastai is not installed; pip install -c requirements.txt "
            "-r requirements-bench.txt (make bench does)"
        )
    data = dataset(sizes.train_per_class, sizes.val_per_class)
    rows = [image_row(sizes, data, TrainConfig.batch_size)]
    csv = text_csv(sizes)
    rows += [text_row(sizes, csv, strategy) for strategy in ("full", "lora")]
    n = len(data.train) + len(data.val)
    rows.append(forward_row(decoded(), frozen_precision(n)))
    return rows
