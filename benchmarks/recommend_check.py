"""Is recommend's advice right? Compare every strategy, then check the auto row against the best.

    python benchmarks/recommend_check.py        # Fashion-MNIST and MNIST-5k, 100/100 per class, seed 0
    python benchmarks/recommend_check.py --sets fashion-mnist --per-class 50 --epochs 3

For each data set: export a seeded, stratified subset, run ``compare`` (scratch, feature
extraction, partial, full, progressive and auto; same epochs and seed) and report whether the
strategy ``recommend`` picked (the auto row) reaches within ``--tolerance`` points of the best
strategy's val accuracy in no more wall time. Exit status 1 when a data set misses.
About 20 minutes per data set at 100/100 on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from headstart.compare import compare
from headstart.config import TrainConfig
from headstart.data.export import export_dataset

HERE = Path(__file__).resolve().parent


def check(name: str, per_class: int, epochs: int, seed: int, tolerance: float, out: Path) -> dict:
    root = HERE / ".data" / f"{name}-{per_class}-{per_class}-seed{seed}"
    if not (root / "train").is_dir():
        export_dataset(name, root, per_class, per_class, seed=seed, force=True)
    cfg = TrainConfig(epochs=epochs, seed=seed, out=str(out), progress=False)
    result = compare(root, config=cfg, name=f"{name}-{per_class}")
    best = result.winner
    auto = result.row("auto")
    assert auto is not None
    gap = (best["val_acc"] - auto["val_acc"]) * 100
    ok = gap <= tolerance and auto["wall_s"] <= best["wall_s"] + 1e-6
    return {
        "data": f"{name} {per_class}/{per_class} per class, seed {seed}, {epochs} epochs",
        "rows": [
            {k: r[k] for k in ("strategy", "resolved", "val_acc", "macro_f1", "wall_s")}
            for r in result.rows
        ],
        "best": best["strategy"],
        "auto": auto["resolved"],
        "points_below_best": gap,
        "ok": ok,
        "report": str(result.run_dir / "report.html"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="fashion-mnist,mnist5k")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1.5, help="accuracy points")
    parser.add_argument("--out", help="run directories (default: a temporary folder)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="headstart-recommend-check-"))
    results = [
        check(s.strip(), args.per_class, args.epochs, args.seed, args.tolerance, out)
        for s in args.sets.split(",")
    ]
    for r in results:
        print(f"\n{r['data']}\n")
        print("| strategy | val acc | macro-F1 | wall s |")
        print("|---|---|---|---|")
        for row in r["rows"]:
            label = row["strategy"]
            if row["strategy"] == "auto":
                label = f"auto (= {row['resolved']})"
            star = " (best)" if row["strategy"] == r["best"] else ""
            print(
                f"| {label}{star} | {row['val_acc']:.3f} | {row['macro_f1']:.3f} "
                f"| {row['wall_s']:.1f} |"
            )
        verdict = "meets" if r["ok"] else "MISSES"
        print(
            f"\nrecommend picked {r['auto']}: {r['points_below_best']:.1f} points below the best "
            f"({r['best']}); {verdict} 'within {args.tolerance} points at no more wall time'"
        )
        print(f"report: {r['report']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
