"""Is recommend's advice right? Compare every strategy, then check the auto row against the best.

    python benchmarks/recommend_check.py        # Fashion-MNIST and MNIST-5k, 100/100 per class, seed 0
    python benchmarks/recommend_check.py --sets all --sizes 25,100     # every image set, two sizes
    python benchmarks/recommend_check.py --sets textile,lfw-faces --sizes 25 --epochs 3

For each data set and size: export a seeded, stratified subset (SIZE train and SIZE val images
per class; a set with fewer images is exported at the most it allows, shown in the table), run
``compare`` (scratch, feature extraction, partial, full, progressive and auto; same epochs and
seed) and report whether the strategy ``recommend`` picked (the auto row) reaches within
``--tolerance`` points of the best strategy's val accuracy in no more wall time. ``--sets all``
is every image set of ``headstart datasets list``. Exit status 1 when a row misses.
About 20 minutes per data set at 100/100 on a 2-core CPU (10 classes; fewer classes, less).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from headstart.compare import compare
from headstart.config import TrainConfig
from headstart.data.export import DATASETS, export_dataset

HERE = Path(__file__).resolve().parent


def most_per_class(name: str) -> int:
    """The largest N such that N train and N val images of every class can be exported."""
    _, y_train, _, y_test = DATASETS[name].load()
    fewest = int(np.unique(y_train, return_counts=True)[1].min())
    if y_test is None:  # one pool: val comes from what train did not take
        return fewest // 2
    return min(fewest, int(np.unique(y_test, return_counts=True)[1].min()))


def check(name: str, per_class: int, args: argparse.Namespace, out: Path) -> dict:
    seed = args.seed
    root = HERE / ".data" / f"{name}-{per_class}-{per_class}-seed{seed}"
    if not (root / "train").is_dir():
        export_dataset(name, root, per_class, per_class, seed=seed, force=True)
    cfg = TrainConfig(epochs=args.epochs, seed=seed, out=str(out), progress=False)
    result = compare(root, config=cfg, name=f"{name}-{per_class}")
    best = result.winner
    auto = result.row("auto")
    assert auto is not None
    gap = (best["val_acc"] - auto["val_acc"]) * 100
    ok = gap <= args.tolerance and auto["wall_s"] <= best["wall_s"] + 1e-6
    return {
        "set": name,
        "per_class": per_class,
        "data": f"{name} {per_class}/{per_class} per class, seed {seed}, {args.epochs} epochs",
        "rows": [
            {k: r[k] for k in ("strategy", "resolved", "val_acc", "macro_f1", "wall_s")}
            for r in result.rows
        ],
        "best": best["strategy"],
        "best_acc": best["val_acc"],
        "best_wall_s": best["wall_s"],
        "auto": auto["resolved"],
        "auto_acc": auto["val_acc"],
        "auto_wall_s": auto["wall_s"],
        "points_below_best": gap,
        "ok": ok,
        "report": str(result.run_dir / "report.html"),
    }


def print_strategies(r: dict, tolerance: float) -> None:
    """Every strategy of one compare run, as it finishes."""
    print(f"\n{r['data']}\n")
    print("| strategy | val acc | macro-F1 | wall s |")
    print("|---|---|---|---|")
    for row in r["rows"]:
        label = row["strategy"]
        if row["strategy"] == "auto":
            label = f"auto (= {row['resolved']})"
        star = " (best)" if row["strategy"] == r["best"] else ""
        print(
            f"| {label}{star} | {row['val_acc']:.3f} | {row['macro_f1']:.3f} | {row['wall_s']:.1f} |"
        )
    verdict = "meets" if r["ok"] else "MISSES"
    print(
        f"\nrecommend picked {r['auto']}: {r['points_below_best']:.1f} points below the best "
        f"({r['best']}); {verdict} 'within {tolerance} points at no more wall time'"
    )
    print(f"report: {r['report']}", flush=True)


def print_summary(results: list[dict], tolerance: float) -> None:
    """One row per data set and size: the best strategy, auto's pick, the gap, pass or fail."""
    print(f"\nrecommend's pick (auto) against the best strategy: pass = within {tolerance} points")
    print("at no more wall time\n")
    print("| set | per class | best | best acc | best wall s | auto = | auto acc | auto wall s "
          "| points below | pass |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        size = f"{r['per_class']}" + (f" (of {r['asked']})" if r["asked"] != r["per_class"] else "")
        print(
            f"| {r['set']} | {size} | {r['best']} | {r['best_acc']:.3f} | {r['best_wall_s']:.1f} "
            f"| {r['auto']} | {r['auto_acc']:.3f} | {r['auto_wall_s']:.1f} "
            f"| {r['points_below_best']:.1f} | {'yes' if r['ok'] else 'NO'} |"
        )


def plan(sets: str, sizes: str) -> list[tuple[str, int, int]]:
    """(set, per class, per class asked) for every run; sizes a set cannot hold are capped, and
    a size that repeats after capping runs once."""
    names = list(DATASETS) if sets == "all" else [s.strip() for s in sets.split(",")]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        sys.exit(f"unknown data set {', '.join(unknown)}; choose from all, {', '.join(DATASETS)}")
    runs: list[tuple[str, int, int]] = []
    for name in names:
        most = most_per_class(name)
        for asked in (int(s) for s in sizes.split(",")):
            size = min(asked, most)
            if all((n, s) != (name, size) for n, s, _ in runs):
                runs.append((name, size, asked))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="fashion-mnist,mnist5k", help="comma-separated, or all")
    parser.add_argument(
        "--sizes", "--per-class", default="100", help="train (= val) images per class, e.g. 25,100"
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1.5, help="accuracy points")
    parser.add_argument("--out", help="run directories (default: a temporary folder)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="headstart-recommend-check-"))
    results = []
    for name, size, asked in plan(args.sets, args.sizes):
        results.append({**check(name, size, args, out), "asked": asked})
        print_strategies(results[-1], args.tolerance)
    print_summary(results, args.tolerance)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
