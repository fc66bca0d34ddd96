"""``headstart demo``: export a Fashion-MNIST subset and adapt the packaged EfficientNet-Lite0."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="the main job on real data with the packaged weights")
    d.add_argument("--data", default="data/fmnist-demo", help="where to export the data")
    d.add_argument("--out", default="runs", help="folder for run directories")
    d.add_argument("--per-class", type=int, default=100, help="train and val images per class")
    d.add_argument("--epochs", type=int, default=5)
    d.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from headstart.classify.fit import fit
    from headstart.data.export import export_dataset

    data = Path(args.data)
    if not (data / "train").is_dir():
        export_dataset("fashion-mnist", data, args.per_class, args.per_class, seed=0, force=True)
    rows = []
    for strategy in ("feature-extraction", "progressive"):
        start = time.perf_counter()
        result = fit(
            data, strategy=strategy, epochs=args.epochs, out=args.out, name=f"demo-{strategy}"
        )
        rows.append(
            (
                strategy,
                result.final.val_acc,
                result.best["val_acc"],
                time.perf_counter() - start,
                result.run_dir,
            )
        )
    print("\nstrategy             final val acc   best val acc   wall time   run")
    for s, final, best, secs, run in rows:
        print(f"{s:<20} {final:>13.4f} {best:>14.4f} {secs:>9.1f}s   {run}")
    return 0
