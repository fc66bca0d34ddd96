"""``headstart demo``: the transfer gap on a Fashion-MNIST subset with the packaged EfficientNet-Lite0."""

from __future__ import annotations

import argparse
import time

from headstart.cli.common import add_command
from headstart.cli.options import add_checked
from headstart.io import check_writable
from headstart.options import POSITIVE_INT


def register(sub: argparse._SubParsersAction) -> None:
    d = add_command(sub, "demo", run_demo)
    d.add_argument("--data", default="data/fmnist-demo", help="where to export the data")
    d.add_argument("--out", default="runs", help="folder for run directories")
    add_checked(d, "--train-per-class", POSITIVE_INT, default=50)
    add_checked(d, "--val-per-class", POSITIVE_INT, default=50)
    add_checked(d, "--epochs", POSITIVE_INT, default=5)


def run_demo(args: argparse.Namespace) -> int:
    """the main job: compare every strategy on real data, offline"""
    from headstart.compare import compare
    from headstart.compare.report import explain, text_table
    from headstart.data.export import export_dataset

    start = time.perf_counter()
    data = check_writable(args.data, "--data")
    check_writable(args.out, "--out")
    # Reused when it holds this very export; an earlier demo export is replaced; any other
    # non-empty folder is an error (headstart never deletes what it did not write).
    export_dataset(
        "fashion-mnist", data, args.train_per_class, args.val_per_class, seed=0, force=True
    )
    print(
        f"data: {data} (Fashion-MNIST, {args.train_per_class} train / {args.val_per_class} val "
        "images per class, seed 0)"
    )
    result = compare(data, epochs=args.epochs, out=args.out, name="demo", progress=False)
    print("\nThe transfer gap on Fashion-MNIST with EfficientNet-Lite0 (ImageNet weights):\n")
    print(text_table(result) + "\n")
    for line in explain(result):
        print(f"- {line}")
    print(f"\nreport: {result.run_dir / 'report.html'}")
    print(f"demo finished in {time.perf_counter() - start:.0f}s")
    return 0
