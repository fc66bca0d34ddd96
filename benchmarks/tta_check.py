"""What does test-time augmentation change? Train once, evaluate with and without ``--tta``.

    python benchmarks/tta_check.py                                  # Fashion-MNIST, feature extraction
    python benchmarks/tta_check.py --strategy partial --epochs 5

Exports Fashion-MNIST (100 train / 100 val images per class, seed 0), trains the packaged
EfficientNet-Lite0 with the strategy, then evaluates the run's ``last`` checkpoint (no selection
on the validation set) on the 1,000 val images without and with test-time augmentation (the
image, its mirror image and two 90% crops, logits averaged) and prints both accuracies.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from headstart.classify.checkpoint import Checkpoint
from headstart.classify.fit import fit
from headstart.config import TrainConfig
from headstart.data.export import export_dataset

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", default="fashion-mnist")
    parser.add_argument("--strategy", default="feature-extraction")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = HERE / ".data" / f"{args.set}-{args.per_class}-{args.per_class}-seed{args.seed}"
    if not (root / "train").is_dir():
        export_dataset(args.set, root, args.per_class, args.per_class, seed=args.seed, force=True)
    out = Path(tempfile.mkdtemp(prefix="headstart-tta-"))
    cfg = TrainConfig(
        strategy=args.strategy, epochs=args.epochs, seed=args.seed, out=str(out),
        progress=False, report=False, tensorboard=False,
    )  # fmt: skip
    run = fit(root, cfg).run_dir
    ckpt = Checkpoint.load(run, "last")
    result = {"data": str(root), "strategy": args.strategy, "epochs": args.epochs}
    for tta in (False, True):
        start = time.perf_counter()
        ev = ckpt.evaluate(root, "val", tta=tta)
        key = "tta" if tta else "plain"
        result[key] = {"accuracy": ev.accuracy, "macro_f1": ev.macro_f1, "n": ev.n,
                       "seconds": time.perf_counter() - start}  # fmt: skip
    result["change_points"] = 100 * (result["tta"]["accuracy"] - result["plain"]["accuracy"])
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
